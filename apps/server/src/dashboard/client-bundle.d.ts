/** The dashboard's browser script (src/dashboard/client.ts with dagre), bundled by build.mjs. */
declare module "abathur:dashboard-client" {
  const code: string
  export default code
}

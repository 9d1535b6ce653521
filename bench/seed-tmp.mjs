import { longLivedDatabase } from "./dist/workloads/reads.js"
const n = Number(process.argv[2])
const r = longLivedDatabase("/tmp/bench-exp", n)
console.log(n, r.seededMs, JSON.stringify(r.shape))

/** Types of scripts/docs.mjs, for the tests that check the generated docs. */
export declare const docsDir: string
export declare const cliMain: string
export declare const serverMain: string
export declare const renderCliDocs: (main?: string) => Promise<string>
export declare const renderHttpDocs: (openapi: unknown) => string
export declare const renderMcpDocs: (tools: ReadonlyArray<unknown>) => string
export declare const renderServerDocs: (url: string) => Promise<Record<"openapi.json" | "http.md" | "mcp.md", string>>
export declare const startServer: (main?: string) => Promise<{ url: string; stop: () => Promise<void> }>
export declare const renderAll: () => Promise<Record<string, string>>
export declare const typeOf: (schema: unknown) => string
export declare const propertyTable: (schema: unknown) => Array<string>

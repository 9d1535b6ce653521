/**
 * What the measurements of a missed target mean and what would close it, per workload
 * (written from the analysis runs; printed in BENCHMARKS.md only when the target is missed).
 */
export const EXPLANATIONS: Readonly<Record<string, { readonly reason: string; readonly close: string }>> = {}

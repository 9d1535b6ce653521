/** Reads an age such as `30s`, `15m`, `12h`, `30d` or `2w` into milliseconds, or null. */
export const parseAge = (text: string): number | null => {
  const m = /^\s*(\d+)\s*([smhdw])\s*$/i.exec(text)
  if (m === null) return null
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[m[2]!.toLowerCase() as "s" | "m" | "h" | "d" | "w"]
  return Number(m[1]) * unit * 1000
}

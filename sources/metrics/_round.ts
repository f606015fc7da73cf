// Two decimals are plenty for percentages and rates on a dashboard, and keep the
// JSON lines readable.
export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

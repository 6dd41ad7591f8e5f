import Table from "cli-table3";

/** No borders: columns two spaces apart, so the tables fit a 120-column terminal. */
const BORDERLESS = {
  chars: {
    top: "",
    "top-mid": "",
    "top-left": "",
    "top-right": "",
    bottom: "",
    "bottom-mid": "",
    "bottom-left": "",
    "bottom-right": "",
    left: "",
    "left-mid": "",
    mid: "",
    "mid-mid": "",
    right: "",
    "right-mid": "",
    middle: "  ",
  },
  style: { "padding-left": 0, "padding-right": 0, head: [] as string[], border: [] as string[] },
};

/** A plain text table; `right` names the columns (by index) aligned right (amounts). */
export function textTable(head: string[], rows: string[][], right: readonly number[] = []): string {
  const table = new Table({
    ...BORDERLESS,
    head,
    colAligns: head.map((_, i) => (right.includes(i) ? "right" : "left")),
  });
  table.push(...rows);
  return table
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n");
}

/** "key  value" lines with the keys padded to one width. */
export function keyValues(pairs: [string, string][]): string {
  const width = Math.max(...pairs.map(([key]) => key.length));
  return pairs.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join("\n");
}

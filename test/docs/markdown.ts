/**
 * Reading docs/PROTOCOL.md mechanically: its code (fenced blocks and inline spans), the Solidity declarations in it,
 * and its tables. The protocol test compares these with the compiled ABI so that the document cannot drift from
 * the contract.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

export const PROTOCOL_PATH = path.join(__dirname, "..", "..", "docs", "PROTOCOL.md");

export function readProtocol(): string {
  return readFileSync(PROTOCOL_PATH, "utf8");
}

/** The contents of every fenced code block, in order, with the block's language tag. */
export function fencedBlocks(markdown: string): { lang: string; body: string }[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], body: m[2] }));
}

/** Everything written as code: fenced blocks and inline `spans` (the prose around them is not a name). */
export function codeText(markdown: string): string {
  const blocks = fencedBlocks(markdown).map((b) => b.body);
  const withoutBlocks = markdown.replace(/^```\w*\n[\s\S]*?^```$/gm, "");
  const spans = [...withoutBlocks.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
  return [...blocks, ...spans].join("\n");
}

/** One parameter of a Solidity declaration as written: `IERC20 indexed token` -> type IERC20, indexed, name token. */
export interface DocParam {
  type: string;
  indexed: boolean;
  name: string;
}

/** A `function`, `event` or `error` declaration found in the document's Solidity. */
export interface DocDeclaration {
  kind: "function" | "event" | "error";
  name: string;
  inputs: DocParam[];
  outputs: DocParam[];
}

const LOCATIONS = new Set(["memory", "calldata", "storage"]);

function parseParams(list: string): DocParam[] {
  const trimmed = list.trim();
  if (trimmed === "") return [];
  return trimmed.split(",").map((part) => {
    const words = part
      .trim()
      .split(/\s+/)
      .filter((w) => !LOCATIONS.has(w));
    const indexed = words.includes("indexed");
    const rest = words.filter((w) => w !== "indexed");
    return { type: rest[0], indexed, name: rest[1] ?? "" };
  });
}

/**
 * Declarations in the given Solidity text (comments removed, declarations may span lines). Only parameter lists
 * without nested parentheses are read, which is every declaration in the document.
 */
export function solidityDeclarations(solidity: string): DocDeclaration[] {
  const code = solidity.replace(/\/\/.*$/gm, "").replace(/\s+/g, " ");
  const found: DocDeclaration[] = [];
  const pattern = /\b(function|event|error) (\w+)\s*\(([^()]*)\)([^;]*);/g;
  for (const m of code.matchAll(pattern)) {
    const returns = /returns\s*\(([^()]*)\)/.exec(m[4]);
    found.push({
      kind: m[1] as DocDeclaration["kind"],
      name: m[2],
      inputs: parseParams(m[3]),
      outputs: returns ? parseParams(returns[1]) : [],
    });
  }
  return found;
}

/** The rows of the first table whose header row starts with `firstHeader`, as arrays of trimmed cells. */
export function tableRows(markdown: string, firstHeader: string): string[][] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => new RegExp(`^\\|\\s*${firstHeader}\\s*\\|`).test(l));
  if (start < 0) return [];
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .slice(1, -1)
        .split("|")
        .map((c) => c.trim()),
    );
  }
  return rows;
}

/** The text inside the first backtick span of a table cell (`` `ACCEPT` `` -> ACCEPT). */
export function unquote(cell: string): string {
  const m = /`([^`]+)`/.exec(cell);
  return m ? m[1] : cell;
}

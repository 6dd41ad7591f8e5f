import { DripFeedError } from "./errors";

/**
 * Amounts in hand-written JSON: yagna sends `"totalAmountDue": "0.5"` (a string), but a person editing a file may
 * write `"totalAmountDue": 0.5`. `JSON.parse` would turn that into a binary float (0.1 + 0.2 problems, 18 decimals
 * lost), so the number is quoted in the text first, digit for digit, before parsing: the amount stays exact, and
 * anything that is not a plain decimal (an exponent, a sign) is still refused by the parser with its own message.
 */
export function quoteNumberFields(text: string, fields: readonly string[]): string {
  let out = text;
  for (const field of fields) {
    const name = field.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    out = out.replace(
      new RegExp(`("${name}"\\s*:\\s*)(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)(?=\\s*[,}])`, "g"),
      '$1"$2"',
    );
  }
  return out;
}

/**
 * A JSON object from text or an already parsed value; anything else is INVALID_JSON, with `what` named ("a signed
 * acceptance", "the Golem agreement").
 */
export function parseJsonObject(input: unknown, what: string): Record<string, unknown> {
  let value = input;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value) as unknown;
    } catch (error) {
      throw new DripFeedError("INVALID_JSON", `${what} is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DripFeedError("INVALID_JSON", `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

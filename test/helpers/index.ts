/** Everything the contract tests share: import from "../helpers". */
export * from "./balances";
export * from "./fixture";
export * from "./invariants";
export * from "./payoutModel";
export * from "./signing";
export * from "./vectors";

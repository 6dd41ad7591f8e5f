// The DripFeed TypeScript SDK: usable without Hardhat (ethers v6 + the committed TypeChain types).
export * from "./errors";
export * from "./ids";
export * from "./amounts";
export * from "./rates";
export * from "./terms";
export * from "./payout";
export * from "./acceptance";
export * from "./debitNote";
export * from "./acceptor";
export * from "./token";
export * from "./permit";
export * from "./revert";
export * from "./client";
export * from "./verify";

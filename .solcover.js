// solidity-coverage: measure the protocol only. contracts/test/ holds mocks and hostile contracts used by tests.
module.exports = {
  skipFiles: ["test/"],
  // Instrumented contracts are bigger and use more gas: tests tagged @gas or @no-coverage (exact gas figures, the
  // CREATE2 address of the real bytecode) do not run under coverage.
  mocha: { grep: "@gas|@no-coverage|deterministic CREATE2 factory", invert: true },
  configureYulOptimizer: true,
};

// ESLint 9 flat config: typescript-eslint's recommended rules for every TypeScript file of the project.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      "artifacts/**",
      "cache/**",
      "coverage/**",
      "typechain-types/**",
      "deployments/**",
      "dist/**",
      ".tmp/**",
      "bench/.tmp/**",
      ".forge/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["warn", { fixStyle: "inline-type-imports" }],
    },
  },
  {
    // CommonJS config files read by tools (solidity-coverage's .solcover.js).
    files: ["**/*.js", "**/*.cjs"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { module: "writable", require: "readonly", __dirname: "readonly" },
    },
  },
  {
    // The solc forge runs (foundry.toml): a plain Node executable, so CommonJS with Node's globals.
    files: ["scripts/forge-solc.js"],
    languageOptions: { globals: { process: "readonly", Buffer: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Mocha's `function () { this.timeout(...) }` and chai's property assertions (`.to.be.true`).
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-expressions": "off",
    },
  },
);

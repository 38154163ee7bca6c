// ESLint: typescript-eslint's recommended rules with type information, for
// src/, test/ and bench/. Formatting is Prettier's job (npm run format).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // .tmp/: scratch projects tests write (test/package/exports.test.ts).
  { ignores: ["**/dist/", "**/gen/", "node_modules/", "coverage/", ".tmp/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A leading underscore marks a name kept on purpose (an ignored
      // argument, a field left out of a rest copy).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", ignoreRestSiblings: true },
      ],
    },
  },
  {
    // A house others can carry on: files named after what they hold, and
    // functions a reader takes in at once. A function over the bound says
    // why in an eslint-disable comment.
    files: ["src/**/*.ts"],
    rules: {
      "max-lines": ["error", { max: 400 }],
      "max-lines-per-function": ["error", { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
);

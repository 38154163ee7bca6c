/**
 * Builds dist/ once per test run (`npm run build`): the process tests start
 * jetq the way `npm start` does, from the compiled output
 * (test/helpers/npm-script.ts). The workspace packages too (their dist/):
 * test/client/ runs the CLI and imports @jetq/client as users get them.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export default function buildOnce(): void {
  const root = fileURLToPath(new URL("..", import.meta.url));
  execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "inherit" });
  execFileSync("npm", ["run", "build", "--workspaces", "--silent"], { cwd: root, stdio: "inherit" });
}

// Opens the API docs page in headless Chromium, expands the hegemony
// endpoint, runs "Try it out" and expects a 200 with results.
// Usage: node docs.mjs BASE_URL [SCREENSHOT.png]
import { chromium } from "playwright-core";

const [base, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(30000);
  // The gateway's Content-Security-Policy must let the page do all of this.
  const violations = [];
  await page.exposeFunction("cspViolation", (v) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      window.cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`));
  });
  await page.goto(base + "/ihr/api/docs");
  const op = page.locator("#operations-hegemony-hegemony");
  await op.locator(".opblock-summary").click();
  await op.locator("button.try-out__btn").click();
  await op.locator('tr[data-param-name="originasn"] input').fill("2497");
  await op.locator('tr[data-param-name="timebin"] input').fill("2024-05-01T00:00:00Z");
  await op.locator("button.execute").click();
  const status = op.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor();
  const code = (await status.innerText()).trim();
  const body = await op.locator(".live-responses-table .response-col_description .microlight").first().innerText();
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
  if (!code.startsWith("200") || !body.includes('"results"') || !body.includes('"originasn": 2497')) {
    console.error(`unexpected answer: ${code}\n${body.slice(0, 500)}`);
    process.exit(1);
  }
  if (violations.length > 0) {
    console.error(`Content-Security-Policy violations:\n${violations.join("\n")}`);
    process.exit(1);
  }
  console.log(`docs page: Try it out on hegemony answered ${code}`);
} finally {
  await browser.close();
}

// Driving the playground's GraphiQL (GraphiQL 5, Monaco editors) as a
// person does: type in the editors, press the run button, read the
// response pane. Shared by playground.e2e.mjs and dashboard.e2e.mjs.

const T = 20000;

/** Waits until GraphiQL shows its editors and has the schema (introspection answered). */
export async function graphiqlReady(page) {
  await page.locator('.graphiql-query-editor .monaco-editor').waitFor({ timeout: T });
  // The Re-fetch button is there from the start; the schema is loaded when
  // the docs explorer can list the root types (checked by openDocs). Here:
  // the editor accepts input.
  await page.locator('.graphiql-query-editor .monaco-editor textarea').waitFor({ state: 'attached', timeout: T });
}

/** Replaces the content of a Monaco editor (inside the element matching scope) by typing it. */
async function typeInto(page, scope, text) {
  const editor = page.locator(`${scope} .monaco-editor`).first();
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  // insertText enters the text as one input, as a paste would: Monaco's
  // auto-closing of brackets and quotes applies to keys typed one by one.
  await page.keyboard.insertText(text);
  await page.waitForFunction(
    ([sel, want]) => {
      const el = document.querySelector(`${sel} .monaco-editor .view-lines`);
      return el && el.textContent.replace(/\u00a0/g, ' ').replace(/\s+/g, '').includes(want.replace(/\s+/g, ''));
    },
    [scope, text.split('\n')[0].slice(0, 40)],
    { timeout: T },
  );
  // Back to the start: the editor scrolls to show the beginning.
  await page.keyboard.press('ControlOrMeta+Home');
}

/**
 * Types the operation into the query editor, and waits until GraphiQL has
 * taken it in (it parses the query a moment after an edit): its tab is
 * named after the operation.
 */
export async function typeQuery(page, query) {
  await typeInto(page, '.graphiql-query-editor', query);
  const m = /^\s*(?:query|mutation|subscription)\s+([_A-Za-z]\w*)/.exec(query);
  const title = m ? m[1] : '<untitled>';
  await page.waitForFunction(
    (want) => document.querySelector('.graphiql-tab-active .graphiql-tab-button')?.textContent?.trim() === want,
    title,
    { timeout: T },
  );
}

/** Opens the Headers tab under the query editor and types a JSON object of headers. */
export async function typeHeaders(page, headers) {
  await page.locator('.graphiql-editor-tools').getByRole('button', { name: 'Headers', exact: true }).click();
  const tool = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden)').last();
  await tool.locator('.monaco-editor').waitFor({ timeout: T });
  await typeInto(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden)', JSON.stringify(headers));
}

/** The response pane's text, as Monaco shows it (the visible lines, in order). */
export async function responseText(page) {
  return page.evaluate(() => {
    const lines = [...document.querySelectorAll('.graphiql-response .view-lines .view-line')];
    lines.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
    return lines.map((l) => l.textContent.replace(/\u00a0/g, ' ')).join('\n');
  });
}

/** Presses run and waits until the response pane contains want; returns the pane's text. */
export async function run(page, want) {
  await page.locator('.graphiql-execute-button').click();
  return waitForResponse(page, want);
}

/** Waits until the response pane contains want; returns the pane's text. */
export async function waitForResponse(page, want, timeout = T) {
  const started = Date.now();
  for (;;) {
    const text = await responseText(page);
    if (text.includes(want)) return text;
    if (Date.now() - started > timeout) throw new Error(`the response pane lacks ${JSON.stringify(want)}: ${text.slice(0, 400)}`);
    await page.waitForTimeout(100);
  }
}

/** Opens the docs explorer and returns the names of the root operation types it lists. */
export async function openDocs(page) {
  await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
  const docs = page.locator('.graphiql-doc-explorer');
  await docs.waitFor({ timeout: T });
  // The root types show once introspection has answered.
  await docs.getByRole('link', { name: 'Query', exact: true }).or(docs.locator('a', { hasText: /^Query$/ })).first().waitFor({ timeout: T });
  return docs;
}

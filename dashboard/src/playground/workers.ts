// Monaco's web workers (GraphiQL's editors), bundled by Vite as files of
// their own under /assets: the editor, JSON (variables, headers, the
// response) and GraphQL (validation, completion from the schema). Nothing
// is fetched from elsewhere; the page's CSP allows workers from 'self' only.

import EditorWorker from 'monaco-editor/esm/vs/editor/editor.worker.js?worker';
import JsonWorker from 'monaco-editor/esm/vs/language/json/json.worker.js?worker';
import GraphQLWorker from 'monaco-graphql/esm/graphql.worker.js?worker';

declare global {
  interface Window {
    MonacoEnvironment?: { getWorker(workerId: string, label: string): Worker };
  }
}

window.MonacoEnvironment = {
  getWorker(_workerId: string, label: string): Worker {
    if (label === 'json') return new JsonWorker();
    if (label === 'graphql') return new GraphQLWorker();
    return new EditorWorker();
  },
};

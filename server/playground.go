package server

import (
	"bytes"
	"html/template"
	"net/http"
)

// Playground assets: the same GraphiQL and React builds, from the same CDN
// and with the same integrity hashes, as gqlgen v0.17.98's
// playground.Handler loads. The browser checks each file against its hash.
const (
	graphiqlJS     = "https://cdn.jsdelivr.net/npm/graphiql@4.1.2/graphiql.min.js"
	graphiqlJSSRI  = "sha256-hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs="
	graphiqlCSS    = "https://cdn.jsdelivr.net/npm/graphiql@4.1.2/graphiql.min.css"
	graphiqlCSSSRI = "sha256-MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU="
	reactJS        = "https://cdn.jsdelivr.net/npm/react@18.2.0/umd/react.production.min.js"
	reactJSSRI     = "sha256-S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY="
	reactDOMJS     = "https://cdn.jsdelivr.net/npm/react-dom@18.2.0/umd/react-dom.production.min.js"
	reactDOMJSSRI  = "sha256-IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc="
)

// apiKeyStorageName is where the dashboard keeps the API key it signed in
// with, in sessionStorage (dashboard/src/lib/auth.ts, KEY_STORAGE_NAME).
const apiKeyStorageName = "archivist.apiKey"

// playgroundHandler serves GraphiQL at /playground. gqlgen's page takes its
// headers from the server, fixed when the handler is built; this one takes
// the API key the dashboard keeps in this tab's sessionStorage (the same
// origin and tab) and sends it as the Authorization header with every
// request and in connection_init of every subscription. Headers typed in
// GraphiQL's editor go on top, and are not written to localStorage. A line
// above GraphiQL says whether the node needs a key and how to sign in.
func playgroundHandler(title, endpoint string) http.Handler {
	var buf bytes.Buffer
	err := playgroundPage.Execute(&buf, map[string]any{
		"Title":          title,
		"Endpoint":       endpoint,
		"StorageName":    apiKeyStorageName,
		"GraphiqlJS":     template.URL(graphiqlJS),
		"GraphiqlJSSRI":  graphiqlJSSRI,
		"GraphiqlCSS":    template.URL(graphiqlCSS),
		"GraphiqlCSSSRI": graphiqlCSSSRI,
		"ReactJS":        template.URL(reactJS),
		"ReactJSSRI":     reactJSSRI,
		"ReactDOMJS":     template.URL(reactDOMJS),
		"ReactDOMJSSRI":  reactDOMJSSRI,
	})
	if err != nil {
		panic("server: playground page: " + err.Error()) // a fixed template with fixed data
	}
	page := buf.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		_, _ = w.Write(page)
	})
}

var playgroundPage = template.Must(template.New("playground").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{.Title}}</title>
  <style>
    body { margin: 0; height: 100vh; display: flex; flex-direction: column; font-family: system-ui, sans-serif; }
    #archivist-auth { flex: none; padding: 6px 14px; font-size: 13px; line-height: 1.4; background: #eef0f3; color: #1b1f24; border-bottom: 1px solid #d6dbe1; }
    #archivist-auth[data-state="insecure"], #archivist-auth[data-state="rejected"] { background: #b91c1c; color: #fff; font-weight: 600; }
    #archivist-auth[data-state="signed-out"] { background: #fef3c7; color: #713f12; }
    #archivist-auth a { color: inherit; font-weight: 600; }
    #archivist-auth code { font-family: ui-monospace, monospace; font-size: 12px; }
    #graphiql { flex: 1; min-height: 0; }
    .loading { height: 100%; display: flex; align-items: center; justify-content: center; font-size: 2rem; }
  </style>
  <script src="{{.ReactJS}}" integrity="{{.ReactJSSRI}}" crossorigin="anonymous"></script>
  <script src="{{.ReactDOMJS}}" integrity="{{.ReactDOMJSSRI}}" crossorigin="anonymous"></script>
  <link rel="stylesheet" href="{{.GraphiqlCSS}}" integrity="{{.GraphiqlCSSSRI}}" crossorigin="anonymous">
</head>
<body>
  <div id="archivist-auth" role="status" data-state="unknown">Asking the node whether it needs an API key…</div>
  <div id="graphiql"><div class="loading">Loading GraphiQL…</div></div>
  <script src="{{.GraphiqlJS}}" integrity="{{.GraphiqlJSSRI}}" crossorigin="anonymous"></script>
  <script>
  (function () {
    'use strict';
    var endpoint = {{.Endpoint}};
    var key = null;
    try { key = sessionStorage.getItem({{.StorageName}}); } catch (e) { /* storage off: no key */ }
    // The key as an HTTP header, and the same in connection_init: a browser
    // cannot set headers on a WebSocket. Headers typed under Headers are
    // merged on top by GraphiQL, for both.
    var auth = key ? { Authorization: 'Bearer ' + key } : {};
    var url = location.protocol + '//' + location.host + endpoint;
    var subscriptionUrl = (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + endpoint;

    var hint = document.getElementById('archivist-auth');
    function say(state, parts) {
      hint.setAttribute('data-state', state);
      hint.textContent = '';
      parts.forEach(function (p) {
        if (typeof p === 'string') { hint.appendChild(document.createTextNode(p)); return; }
        var el = document.createElement(p.href ? 'a' : 'code');
        if (p.href) el.href = p.href;
        el.textContent = p.text;
        hint.appendChild(el);
      });
    }
    var header = { text: '{"Authorization": "Bearer KEY"}' };
    var dashboard = { href: '/', text: 'dashboard' };
    function explain(s) {
      if (!s) {
        say('unknown', ['Could not ask the node whether it needs an API key. If it does, sign in on the ', dashboard,
          ' in this tab, or add ', header, ' under Headers.']);
      } else if (!s.authRequired) {
        if (s.insecure) say('insecure', ['\u26a0 ' + (s.warnings && s.warnings.length ? s.warnings.join(' ') : 'INSECURE: this node needs no API key.')]);
        else say('open', ['This node needs no API key.']);
      } else if (s.authenticated) {
        hint.setAttribute('data-role', s.role);
        say('signed-in', ['Signed in as ' + String(s.role).toLowerCase() + ' with the key of the ', dashboard,
          ' in this tab: sent as Authorization: Bearer, and in connection_init for subscriptions. Another key: add ',
          header, ' under Headers, or sign out on the dashboard.']);
      } else if (key) {
        say('rejected', ['The key of the dashboard is no longer accepted: sign in again on the ', dashboard,
          ' in this tab, then reload this page.']);
      } else {
        say('signed-out', ['This node needs an API key. Sign in on the ', dashboard,
          ' in this tab, then come back: the playground uses the same key. Or add ', header,
          ' under Headers (sent with requests and, for subscriptions, in connection_init).']);
      }
    }
    fetch(url, {
      method: 'POST',
      headers: Object.assign({ 'Content-Type': 'application/json' }, auth),
      body: JSON.stringify({ query: 'query Session { session { authRequired authenticated role insecure warnings } }' }),
      credentials: 'same-origin'
    }).then(function (r) { return r.json(); })
      .then(function (b) { explain(b && b.data && b.data.session); })
      .catch(function () { explain(null); });

    if (typeof GraphiQL === 'undefined') {
      document.getElementById('graphiql').textContent = 'GraphiQL could not be loaded (it comes from cdn.jsdelivr.net).';
      return;
    }
    var fetcher = GraphiQL.createFetcher({ url: url, subscriptionUrl: subscriptionUrl, headers: auth, wsConnectionParams: auth });
    ReactDOM.render(
      React.createElement(GraphiQL, {
        fetcher: fetcher,
        isHeadersEditorEnabled: true,
        // Headers typed in the editor (a key) stay out of localStorage.
        shouldPersistHeaders: false,
        inputValueDeprecation: true
      }),
      document.getElementById('graphiql')
    );
  })();
  </script>
</body>
</html>
`))

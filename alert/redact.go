package alert

import (
	"errors"
	"net/url"
)

// RedactWebhook is a webhook URL fit for logs and error messages: its
// scheme and host only. Webhook URLs often carry their token in the
// userinfo, the query or the path (as Slack's do), so none of them is shown.
func RedactWebhook(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	out := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		out += "/…"
	}
	return out
}

// withoutURL drops the URL that net/http puts in its errors (with the
// query, which may hold a token), keeping what went wrong.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Package tasks holds the built-in task types, which every node registers
// with Register. Each type checks its input when the task is submitted, so a
// malformed input is refused with a message rather than queued; an input
// field that a type does not know is refused too, to catch typos. Optional
// fields may be left out or set to null.
//
// # echo
//
// Returns its input unchanged. Any JSON is accepted.
//
//	input:  any JSON value
//	result: the input
//
// # sleep
//
// Sleeps, reporting progress every tenth of the time but at most every
// 250ms (so sleeps under 500ms report none). Cancellation and timeouts end
// it at once.
//
//	input:  {"ms": 1500}    // required integer, 0 to 86400000 (one day)
//	result: {"sleptMs": 1500}
//
// # fail
//
// Fails its first "times" attempts, then succeeds; for exercising retries
// and failure handling. Attempts are numbered from 1 (Task.Attempt), so
// {"times": 2} fails attempts 1 and 2 with errors such as
// "fail: attempt 1 of 2 planned failures" and succeeds on attempt 3, provided
// the task allows at least 2 retries.
//
//	input: {
//	  "times": 2,            // required integer, 0 to 1000000
//	  "message": "boom",     // optional: the error text instead of the default
//	  "permanent": true,     // optional: the failure is permanent, so not retried
//	  "panic": true          // optional: panic instead of returning an error
//	}                        //   (for testing panic recovery; overrides permanent)
//	result: {"attempts": 3}  // the attempt that succeeded
//
// # dice.simulate
//
// Rolls a dice expression many times and reports the distribution of the
// totals. Progress is reported during long runs.
//
//	input: {
//	  "expr": "4d6kh3+2",  // required, see below
//	  "trials": 10000,     // optional, 1 to 1000000, default 1000
//	  "seed": 42           // optional integer: the same seed gives the same result
//	}
//	result: {
//	  "expr": "4d6kh3+2",  // the expression in normal form
//	  "trials": 10000,
//	  "seed": 42,          // only when given
//	  "min": 5, "max": 20, // the smallest and largest totals rolled
//	  "mean": 14.24,
//	  "stddev": 2.85,      // population standard deviation of the totals
//	  "histogram": [       // the totals rolled, in increasing order
//	    {"value": 5, "count": 8, "probability": 0.0008},
//	    ...
//	  ]
//	}
//
// A dice expression is one or more terms joined by "+" or "-", and the first
// term may carry a sign. A term is an integer constant (at most 1000000) or a
// dice group "NdM": N dice (1 to 1000, default 1) of M sides (1 to 1000000),
// optionally followed by "khK" to keep only the K highest dice or "klK" to
// keep the K lowest (1 <= K <= N). Letters may be upper or lower case and
// whitespace may separate the parts. An expression holds at most 100 terms
// and 1000 dice in all. Examples: "d20", "2d6+3", "4d6kh3+2", "1d20+1d4-1",
// "2d20kl1". In normal form every count is written out and spaces are
// dropped: "d20 + 3" becomes "1d20+3".
//
// When more than 10000 distinct totals are rolled, the histogram groups
// neighbouring totals: the result then has "bucketWidth" (totals per bin),
// and each bin covers "value" to "upTo" inclusive.
package tasks

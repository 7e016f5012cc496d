// The self-test of make vulncheck: a module that calls a known-vulnerable
// function, which govulncheck must report (GO-2021-0113, and GO-2022-1059).
// Never built with the project: testdata is outside ./... and this is a
// module of its own.
module example.com/vulncheck-canary

go 1.22

require golang.org/x/text v0.3.5

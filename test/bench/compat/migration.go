package compat

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// A Rule gives the Baton counterpart of the identifiers matching Pattern
// (a glob over Ident.Full where * matches anything, dots included). The
// first matching rule of the file wins.
//
// Answer is one of
//
//	same[; note]                  Baton has the identifier under the same package path and name
//	renamed to PKG.NAME[; note]   Baton's counterpart is PKG.NAME (checked to exist)
//	not provided, because ...     and why
type Rule struct {
	Pattern string
	Answer  string
	Line    int
	re      *regexp.Regexp
}

// ReadRules reads a rules file: one rule a line, pattern and answer
// separated by " => "; blank lines and lines starting with # are skipped.
func ReadRules(r io.Reader) ([]Rule, error) {
	var rules []Rule
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pat, ans, ok := strings.Cut(line, " => ")
		if !ok {
			return nil, fmt.Errorf("line %d: want PATTERN => ANSWER, got %q", n, line)
		}
		ans = strings.TrimSpace(ans)
		if ans != "same" && !strings.HasPrefix(ans, "same; ") && !strings.HasPrefix(ans, "renamed to ") && !strings.HasPrefix(ans, "not provided, because ") {
			return nil, fmt.Errorf("line %d: answer %q does not start with same, renamed to or not provided, because", n, ans)
		}
		quoted := regexp.QuoteMeta(strings.TrimSpace(pat))
		re, err := regexp.Compile("^" + strings.ReplaceAll(quoted, `\*`, ".*") + "$")
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		rules = append(rules, Rule{Pattern: strings.TrimSpace(pat), Answer: ans, Line: n, re: re})
	}
	return rules, sc.Err()
}

// Match returns the first rule matching id.
func Match(rules []Rule, id Ident) (Rule, bool) {
	for _, r := range rules {
		if r.re.MatchString(id.Full()) {
			return r, true
		}
	}
	return Rule{}, false
}

// Target is the Baton identifier an answer names: id's own for "same", the
// named one for "renamed to", "" otherwise.
func Target(id Ident, answer string) string {
	if answer == "same" || strings.HasPrefix(answer, "same; ") {
		return id.Full()
	}
	if rest, ok := strings.CutPrefix(answer, "renamed to "); ok {
		t, _, _ := strings.Cut(rest, ";")
		return strings.TrimSpace(t)
	}
	return ""
}

// Problems checks every identifier against the rules and Baton's own
// identifiers: each must match a rule, and a "same" or "renamed to" answer
// must name something Baton has.
func Problems(ids []Ident, rules []Rule, baton map[string]bool) []string {
	var out []string
	for _, id := range ids {
		r, ok := Match(rules, id)
		if !ok {
			out = append(out, fmt.Sprintf("%s (%s): no rule", id.Full(), id.Kind))
			continue
		}
		if t := Target(id, r.Answer); t != "" && !baton[t] {
			out = append(out, fmt.Sprintf("%s (%s): rule at line %d says %q but Baton has no %s", id.Full(), id.Kind, r.Line, r.Answer, t))
		}
	}
	return out
}

// WriteMigration writes docs/migration.md: the hand-written introduction,
// then one table per package of conductor-go with every identifier and its
// answer.
func WriteMigration(w io.Writer, intro string, version string, ids []Ident, rules []Rule) error {
	b := bufio.NewWriter(w)
	fmt.Fprint(b, intro)
	byPkg := map[string][]Ident{}
	var pkgs []string
	for _, id := range ids {
		if _, ok := byPkg[id.Pkg]; !ok {
			pkgs = append(pkgs, id.Pkg)
		}
		byPkg[id.Pkg] = append(byPkg[id.Pkg], id)
	}
	counts := map[string]int{}
	for _, id := range ids {
		r, _ := Match(rules, id)
		counts[strings.TrimSuffix(strings.SplitN(r.Answer, " ", 2)[0], ";")]++
	}
	fmt.Fprintf(b, "\n## Every exported identifier of conductor-go %s\n\n", version)
	fmt.Fprintf(b, "%d identifiers: %d the same in Baton, %d renamed, %d not provided (each with the reason).\n",
		len(ids), counts["same"], counts["renamed"], counts["not"])
	for _, p := range pkgs {
		fmt.Fprintf(b, "\n### %s\n\n| identifier | kind | Baton |\n|---|---|---|\n", p)
		for _, id := range byPkg[p] {
			r, _ := Match(rules, id)
			fmt.Fprintf(b, "| `%s` | %s | %s |\n", id.Name, id.Kind, mdEscape(r.Answer))
		}
	}
	return b.Flush()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

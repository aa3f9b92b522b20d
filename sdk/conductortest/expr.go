package conductortest

import (
	"encoding/json"
	"strconv"
	"strings"
)

// evalMap evaluates the input (or output) parameters of a workflow step
// against the workflow: "${workflow.input.x}" and "${ref.output.y}" style
// expressions, walking nested maps and lists. The result is a new map.
func (s *Server) evalMap(wf *workflow, params map[string]any) map[string]any {
	out := make(map[string]any, len(params))
	for k, v := range params {
		out[k] = s.evalValue(wf, v)
	}
	return out
}

func (s *Server) evalValue(wf *workflow, v any) any {
	switch x := v.(type) {
	case string:
		return s.evalString(wf, x)
	case map[string]any:
		return s.evalMap(wf, x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.evalValue(wf, e)
		}
		return out
	}
	return v
}

// evalString follows ParametersUtils: the string is cut before every "${"
// (not preceded by "$") and after every "}"; a lone expression keeps the
// referenced value's JSON type, several parts are joined as text with a
// missing value as "", and "$${" stands for a literal "${".
func (s *Server) evalString(wf *workflow, str string) any {
	if !strings.Contains(str, "${") {
		return str
	}
	parts := splitExpr(str)
	vals := make([]any, len(parts))
	for i, p := range parts {
		switch {
		case strings.HasPrefix(p, "${") && strings.HasSuffix(p, "}"):
			path := strings.TrimSpace(p[2 : len(p)-1])
			if path == "" {
				vals[i] = ""
				continue
			}
			v, ok := s.resolve(wf, path)
			if !ok {
				v = nil
			}
			vals[i] = v
		case strings.Contains(p, "$${"):
			vals[i] = strings.ReplaceAll(p, "$${", "${")
		default:
			vals[i] = p
		}
	}
	if len(vals) == 1 {
		return vals[0]
	}
	var b strings.Builder
	for _, v := range vals {
		b.WriteString(textOf(v))
	}
	return b.String()
}

func splitExpr(str string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(str); i++ {
		switch {
		case str[i] == '$' && i+1 < len(str) && str[i+1] == '{' && (i == 0 || str[i-1] != '$'):
			if i > start {
				parts = append(parts, str[start:i])
			}
			start = i
		case str[i] == '}':
			parts = append(parts, str[start:i+1])
			start = i + 1
		}
	}
	if start < len(str) {
		parts = append(parts, str[start:])
	}
	return parts
}

func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// resolve evaluates a JSON path like "workflow.input.a.b[0]" or
// "ref.output.x" (an optional leading "$." is accepted).
func (s *Server) resolve(wf *workflow, path string) (any, bool) {
	path = strings.TrimPrefix(path, "$.")
	segs := splitPath(path)
	if len(segs) == 0 {
		return nil, false
	}
	var root any
	if segs[0] == "workflow" {
		root = workflowDoc(wf)
	} else {
		var found *task
		for i := len(wf.tasks) - 1; i >= 0; i-- {
			if wf.tasks[i].m.ReferenceTaskName == segs[0] {
				found = wf.tasks[i]
				break
			}
		}
		if found == nil {
			return nil, false
		}
		root = taskDoc(found)
	}
	cur := root
	for _, seg := range segs[1:] {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// splitPath cuts "a.b[0]['c']" into a, b, 0, c.
func splitPath(path string) []string {
	var segs []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			segs = append(segs, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '.':
			flush()
		case '[':
			flush()
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				return nil
			}
			inner := strings.Trim(path[i+1:i+end], `'"`)
			segs = append(segs, inner)
			i += end
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return segs
}

func workflowDoc(wf *workflow) map[string]any {
	return map[string]any{
		"input":         wf.m.Input,
		"output":        wf.m.Output,
		"status":        string(wf.m.Status),
		"workflowId":    wf.m.WorkflowId,
		"correlationId": nilIfEmpty(wf.m.CorrelationId),
		"workflowType":  wf.m.WorkflowName,
		"version":       float64(wf.m.WorkflowVersion),
		"variables":     wf.m.Variables,
		"createTime":    float64(wf.m.CreateTime),
		"taskToDomain":  toAnyMap(wf.m.TaskToDomain),
	}
}

func taskDoc(t *task) map[string]any {
	return map[string]any{
		"input":                 t.m.InputData,
		"output":                t.m.OutputData,
		"status":                string(t.m.Status),
		"taskId":                t.m.TaskId,
		"referenceTaskName":     t.m.ReferenceTaskName,
		"retryCount":            float64(t.m.RetryCount),
		"reasonForIncompletion": nilIfEmpty(t.m.ReasonForIncompletion),
		"workerId":              nilIfEmpty(t.m.WorkerId),
		"domain":                nilIfEmpty(t.m.Domain),
		"taskType":              t.m.TaskType,
		"scheduledTime":         float64(t.m.ScheduledTime),
		"startTime":             float64(t.m.StartTime),
		"endTime":               float64(t.m.EndTime),
		"pollCount":             float64(t.m.PollCount),
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

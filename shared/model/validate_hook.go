package model

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
)

// HookEntryPoint is the function every hook must define at top level.
const HookEntryPoint = "onEvent"

// MaxHookNesting bounds how deeply ( [ { may nest in hook code. goja's parser
// backtracks on parentheses (is this an arrow function?), so 100 KB of "("
// takes seconds to reject; real hooks nest a few dozen levels at most.
const MaxHookNesting = 64

// sourceMapRe finds a source map directive. goja's parser, unless told
// otherwise, follows it and reads the named file (os.ReadFile, so
// "/dev/zero" hangs the reader); hooks have no use for source maps, so the
// directive is refused outright, and the gateway must parse hooks with
// parser.WithDisableSourceMaps as well.
var sourceMapRe = regexp.MustCompile(`[#@]\s*source(Mapping)?URL\s*=`)

// hookCodeProblem parses hook code without running it and returns "" or
// what is wrong: a syntax error, a source map directive, or no top-level
// onEvent function. Parsing cannot execute anything; it only spends CPU
// proportional to the (size-limited) code.
func hookCodeProblem(code string) string {
	if sourceMapRe.MatchString(code) {
		return "source map directives (sourceMappingURL) are not allowed"
	}
	if bracketDepth(code) > MaxHookNesting {
		return fmt.Sprintf("brackets nested deeper than %d levels", MaxHookNesting)
	}
	prg, err := parseJS(code)
	if err != nil {
		return "syntax error: " + jsErrorLine(err)
	}
	if !definesFunction(prg, HookEntryPoint) {
		return "must define a top-level function onEvent(event)"
	}
	return ""
}

// parseJS parses code with source maps disabled. A panic in the third-party
// parser is turned into an error: admin input must never crash the control
// plane.
func parseJS(code string) (prg *ast.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prg, err = nil, fmt.Errorf("parser failed: %v", r)
		}
	}()
	return parser.ParseFile(nil, "hook.js", code, 0, parser.WithDisableSourceMaps)
}

// bracketDepth is the deepest nesting of ( [ { in code, counted without
// parsing (brackets in strings and comments count too, which only errs on
// the side of refusing absurd code).
func bracketDepth(code string) int {
	depth, deepest := 0, 0
	for i := 0; i < len(code); i++ {
		switch code[i] {
		case '(', '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ')', ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return deepest
}

// jsErrorLine keeps the first parse error, on one line.
func jsErrorLine(err error) string {
	var list parser.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		err = list[0]
	}
	return truncateBytes(strings.Join(strings.Fields(err.Error()), " "), 300)
}

// definesFunction reports whether the program declares name at top level as
// a function declaration or as a variable bound to a function or arrow
// function expression.
func definesFunction(prg *ast.Program, name string) bool {
	for _, st := range prg.Body {
		switch s := st.(type) {
		case *ast.FunctionDeclaration:
			if s.Function != nil && s.Function.Name != nil && string(s.Function.Name.Name) == name {
				return true
			}
		case *ast.VariableStatement:
			if bindsFunction(s.List, name) {
				return true
			}
		case *ast.LexicalDeclaration:
			if bindsFunction(s.List, name) {
				return true
			}
		}
	}
	return false
}

func bindsFunction(list []*ast.Binding, name string) bool {
	for _, b := range list {
		id, ok := b.Target.(*ast.Identifier)
		if !ok || string(id.Name) != name {
			continue
		}
		switch b.Initializer.(type) {
		case *ast.FunctionLiteral, *ast.ArrowFunctionLiteral:
			return true
		}
	}
	return false
}

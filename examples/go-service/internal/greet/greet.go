// Package greet builds the greetings the service answers with.
package greet

import (
	"fmt"
	"strings"
)

// Greeting returns a greeting for name, or for "world" when name is blank.
func Greeting(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "world"
	}
	return fmt.Sprintf("Hello, %s!", name)
}

package greet

import "os"

// Deliberate findings for the demo's `lint` and `sec` steps (see the README).

// requestId should be requestID (golint var-naming).
var requestId = 0

func NextID() int { // golint exported: no doc comment
	requestId += 1 // golint increment-decrement
	return requestId
}

// SaveLog writes the log world-readable.
func SaveLog(data []byte) error {
	return os.WriteFile("greet.log", data, 0644) // gosec G306
}

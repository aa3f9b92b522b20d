//go:build race

package worker

// raceEnabled scales the large integration runs down under the race
// detector, which slows them about tenfold.
const raceEnabled = true

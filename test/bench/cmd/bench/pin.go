package main

// CPU pinning and the server's CPU time (real-server mode).
//
// On a small machine the server (its JVM and its store) and the measured
// worker compete for the same cores, so a worker that spends more CPU per
// task slows the server it is measured against, and the figures swing with
// whatever else runs. With pinning on, the driver puts the server's
// processes (every thread, and the children a store forks later) on one CPU
// set with taskset, and itself on a disjoint one; the contenders it starts
// inherit the driver's set. On this 2-core machine: the server on CPU 0, the
// driver (its counting proxy) and the worker on CPU 1.
//
// The server's processes are the JVM (CONDUCTOR_SERVER_PID, exported by
// test/conductor/run.sh) and its stores (CONDUCTOR_STORE_PIDS: Redis,
// PostgreSQL's postmaster). Their CPU time over a measured run, from /proc
// (utime+stime of every live process in their trees, plus what reaped
// children left in cutime+cstime), is the "server CPU per task" row.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// pinning is where the driver put the server and itself.
type pinning struct {
	mode       string // "auto", "off" or "SERVER/WORKER" as given
	serverCPUs string // taskset list, "" when not pinned
	workerCPUs string
	serverPIDs []int  // JVM first, then stores
	note       string // why pinning is off, or what was pinned
}

// serverPIDsFromEnv reads the server's process ids from run.sh's exports.
func serverPIDsFromEnv(jvm int) []int {
	var pids []int
	if jvm > 0 {
		pids = append(pids, jvm)
	}
	for _, f := range strings.Fields(os.Getenv("CONDUCTOR_STORE_PIDS")) {
		if n, err := strconv.Atoi(f); err == nil && n > 0 {
			pids = append(pids, n)
		}
	}
	return pids
}

// allowedCPUs is the list of CPUs this process may run on
// (Cpus_allowed_list in /proc/self/status, e.g. "0-1" or "0,2-3").
func allowedCPUs() []int {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			v, ok := strings.CutPrefix(l, "Cpus_allowed_list:")
			if !ok {
				continue
			}
			var cpus []int
			for _, r := range strings.Split(strings.TrimSpace(v), ",") {
				lo, hi, isRange := strings.Cut(r, "-")
				a, err1 := strconv.Atoi(lo)
				z := a
				var err2 error
				if isRange {
					z, err2 = strconv.Atoi(hi)
				}
				if err1 != nil || err2 != nil {
					continue
				}
				for c := a; c <= z; c++ {
					cpus = append(cpus, c)
				}
			}
			if len(cpus) > 0 {
				return cpus
			}
		}
	}
	out := make([]int, runtime.NumCPU())
	for i := range out {
		out[i] = i
	}
	return out
}

func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// setupPinning pins the server's processes and this process (and so every
// contender started later) to disjoint CPU sets. mode: "auto" (the first
// half of the allowed CPUs for the server, the rest for the worker; off
// below 2 CPUs or without taskset or server pids), "off", or explicit taskset
// lists "SERVER/WORKER" (e.g. "0/1").
func setupPinning(mode string, pids []int) (pinning, error) {
	p := pinning{mode: mode, serverPIDs: pids}
	if mode == "off" {
		p.note = "off (-pin off)"
		return p, nil
	}
	cpus := allowedCPUs()
	var srv, wrk string
	if mode == "auto" || mode == "" {
		p.mode = "auto"
		if len(cpus) < 2 {
			p.note = fmt.Sprintf("off: only %d CPU available", len(cpus))
			return p, nil
		}
		if len(pids) == 0 {
			p.note = "off: no server process id (CONDUCTOR_SERVER_PID / -server-pid)"
			return p, nil
		}
		if _, err := exec.LookPath("taskset"); err != nil {
			p.note = "off: taskset not found (util-linux)"
			return p, nil
		}
		half := len(cpus) / 2
		srv, wrk = cpuList(cpus[:half]), cpuList(cpus[half:])
	} else {
		var ok bool
		srv, wrk, ok = strings.Cut(mode, "/")
		if !ok || srv == "" || wrk == "" {
			return p, fmt.Errorf("-pin must be auto, off or SERVER/WORKER CPU lists (e.g. 0/1), got %q", mode)
		}
		if len(pids) == 0 {
			return p, fmt.Errorf("-pin %s: no server process id (CONDUCTOR_SERVER_PID / -server-pid)", mode)
		}
	}
	for _, pid := range pids {
		for _, t := range processTree(pid) {
			if err := taskset(srv, t); err != nil && !processGone(t) {
				return p, fmt.Errorf("pin server pid %d to CPUs %s: %w", t, srv, err)
			}
		}
	}
	if err := taskset(wrk, os.Getpid()); err != nil {
		return p, fmt.Errorf("pin the driver to CPUs %s: %w", wrk, err)
	}
	p.serverCPUs, p.workerCPUs = srv, wrk
	p.note = fmt.Sprintf("server (pids %v and their children) on CPUs %s; driver and workers on CPUs %s", pids, srv, wrk)
	return p, nil
}

// taskset sets the CPU affinity of every thread of pid.
func taskset(cpus string, pid int) error {
	out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// describe is the one line the report shows about pinning.
func (p pinning) describe() string {
	if p.serverCPUs == "" {
		return "not pinned (" + p.note + ")"
	}
	return "pinned with taskset: " + p.note
}

// statFields returns the fields of /proc/PID/stat after the command name
// (field 3, the state, is index 0).
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("pid %d: odd /proc stat", pid)
	}
	return strings.Fields(s[i+1:]), nil
}

// children maps every live process to its children.
func childrenByParent() map[int][]int {
	m := map[int][]int{}
	ents, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, e := range ents {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(e)))
		if err != nil {
			continue
		}
		f, err := statFields(pid)
		if err != nil || len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			m[pp] = append(m[pp], pid)
		}
	}
	return m
}

// processTree is pid and its live descendants.
func processTree(pid int) []int {
	kids := childrenByParent()
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, kids[out[i]]...)
	}
	return out
}

// treeCPU is the CPU time (user + system) of the processes pids and their
// descendants, reaped children included, in nanoseconds.
func treeCPU(pids ...int) int64 {
	kids := childrenByParent()
	var total int64
	seen := map[int]bool{}
	queue := append([]int(nil), pids...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		f, err := statFields(pid)
		if err != nil || len(f) < 15 {
			continue
		}
		// utime, stime, cutime, cstime: fields 14-17.
		for _, k := range f[11:15] {
			v, _ := strconv.ParseInt(k, 10, 64)
			total += v
		}
		queue = append(queue, kids[pid]...)
	}
	// USER_HZ is 100 on every Linux this runs on.
	return total * int64(10*time.Millisecond)
}

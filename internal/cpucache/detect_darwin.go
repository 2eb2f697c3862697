package cpucache

import "golang.org/x/sys/unix"

// detect reads the sysctl values macOS publishes. On Apple silicon the hw.perflevel0
// ones describe the performance cores, which run the kernels' threads first; the plain
// hw.* ones are those of the efficiency cores there and of every core on Intel Macs.
func detect() Sizes {
	get := func(names ...string) int {
		for _, n := range names {
			if v, err := unix.SysctlUint64(n); err == nil && v > 0 && v < 1<<40 {
				return int(v)
			}
		}
		return 0
	}
	s := Sizes{
		L1D:       get("hw.perflevel0.l1dcachesize", "hw.l1dcachesize"),
		L2:        get("hw.perflevel0.l2cachesize", "hw.l2cachesize"),
		L3:        get("hw.l3cachesize"),
		L2Sharers: max(1, get("hw.perflevel0.cpusperl2")), // a cluster's L2 is shared by its cores
		L3Sharers: 1,
		Source:    "sysctl",
	}
	s.Known = s.L1D > 0 && s.L2 > 0
	if !s.Known {
		s.Source = "no sysctl cache sizes"
	}
	return s
}

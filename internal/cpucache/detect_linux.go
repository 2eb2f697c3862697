package cpucache

func detect() Sizes {
	s, err := fromSysfs("/sys/devices/system/cpu/cpu0/cache")
	if err != nil {
		return Sizes{L2Sharers: 1, L3Sharers: 1, Source: err.Error()}
	}
	return s
}

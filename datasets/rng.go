package datasets

import (
	"math/bits"
	"math/rand/v2"
)

// Every random choice comes from a PCG generator (math/rand/v2, whose PCG-DXSM output is
// specified) seeded by the user's seed and a stream number derived from what is being
// decided: the shuffle of an epoch, or the augmentation of one example in one epoch. So the
// result depends on (seed, epoch, example) only, never on goroutine scheduling, batch
// boundaries or where a run was resumed. The integer ranges are computed here too, not by
// rand.Rand, whose algorithms are not promised to stay the same across Go releases.

// Domain constants keep the shuffle and augmentation streams apart.
const (
	shuffleDomain = 0x5348554646_4c45 // "SHUFFLE"
	augmentDomain = 0x4155474d_454e54 // "AUGMENT"
)

// mix is the splitmix64 finaliser: distinct inputs give unrelated stream numbers.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func shuffleRNG(seed uint64, epoch int) *rand.PCG {
	return rand.NewPCG(seed, mix(shuffleDomain^uint64(epoch)))
}

func augmentRNG(seed uint64, epoch, index int) *rand.PCG {
	return rand.NewPCG(seed, mix(mix(augmentDomain^uint64(epoch))^uint64(index)))
}

// below returns a uniform integer in [0, n), n >= 1 (Lemire's multiply-and-reject).
func below(r *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(r.Uint64(), n)
	if lo < n {
		threshold := -n % n
		for lo < threshold {
			hi, lo = bits.Mul64(r.Uint64(), n)
		}
	}
	return hi
}

// Permutation returns the order of n examples in an epoch: a Fisher–Yates shuffle seeded by
// (seed, epoch).
func Permutation(seed uint64, epoch, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r := shuffleRNG(seed, epoch)
	for i := n - 1; i > 0; i-- {
		j := int(below(r, uint64(i+1)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

package hub

import "time"

// lockPoll is how often a waiter retries a held blob lock.
const lockPoll = 50 * time.Millisecond

package redis

import (
	"slices"
	"strings"
)

// numSlots is the number of hash slots of a Redis Cluster.
const numSlots = 16384

// crcTable is the table of CRC-16/XMODEM (polynomial 0x1021, initial value
// 0), the checksum Redis Cluster hashes keys with.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc16(s string) uint16 {
	var c uint16
	for i := 0; i < len(s); i++ {
		c = c<<8 ^ crcTable[byte(c>>8)^s[i]]
	}
	return c
}

// slot returns the hash slot of key, as Redis Cluster computes it: only the
// hash tag is hashed when the key has one (the bytes between the first "{"
// and the next "}", if there are any).
func slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key)) & (numSlots - 1)
}

// bySlot groups keys by hash slot, for the multi-key commands a Cluster
// accepts only within one slot. It returns the groups in slot order; keys
// keep their relative order inside a group.
func bySlot(keys []string) [][]string {
	type ks struct {
		slot int
		key  string
	}
	s := make([]ks, len(keys))
	for i, k := range keys {
		s[i] = ks{slot(k), k}
	}
	slices.SortStableFunc(s, func(a, b ks) int { return a.slot - b.slot })
	var groups [][]string
	flat := make([]string, len(s))
	start := 0
	for i := range s {
		flat[i] = s[i].key
		if i == len(s)-1 || s[i+1].slot != s[i].slot {
			groups = append(groups, flat[start:i+1:i+1])
			start = i + 1
		}
	}
	return groups
}

package weights

import (
	"encoding/binary"
	"fmt"
	"math/big"
)

// legacyMagic is torch.serialization.MAGIC_NUMBER, the first pickle of a legacy file.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// legacyProtocol is torch.serialization.PROTOCOL_VERSION.
const legacyProtocol = 1001

// parseTorchLegacy reads the pre-1.6 torch.save stream: pickle(magic),
// pickle(1001), pickle(sys_info), the main pickle, pickle(list of storage keys),
// then per key an int64 LE element count followed by the raw elements.
func parseTorchLegacy(buf []byte) (StateDict, error) {
	magic, pos, err := unpickle(buf, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("torch legacy: magic number: %w", err)
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, fmt.Errorf("torch legacy: bad magic number %v (not a torch.save file)", magic)
	}
	proto, pos, err := unpickle(buf, pos, nil)
	if err != nil {
		return nil, fmt.Errorf("torch legacy: protocol version: %w", err)
	}
	if proto != int64(legacyProtocol) {
		return nil, fmt.Errorf("torch legacy: protocol version %v, want %d", proto, legacyProtocol)
	}
	sysInfo, pos, err := unpickle(buf, pos, nil)
	if err != nil {
		return nil, fmt.Errorf("torch legacy: sys_info: %w", err)
	}
	if d, ok := sysInfo.(*pyDict); ok {
		if le, ok := d.get("little_endian"); ok && le == false {
			return nil, fmt.Errorf("torch legacy: big-endian checkpoints are not supported")
		}
	}
	st := &torchStorages{byKey: map[string]*storageRef{}}
	top, pos, err := unpickle(buf, pos, st.persistentLoad)
	if err != nil {
		return nil, fmt.Errorf("torch legacy: main pickle: %w", err)
	}
	keysVal, pos, err := unpickle(buf, pos, nil)
	if err != nil {
		return nil, fmt.Errorf("torch legacy: storage key list: %w", err)
	}
	keys, ok := keysVal.(*pyList)
	if !ok {
		return nil, fmt.Errorf("torch legacy: storage key list is a %s, want list", pyTypeName(keysVal))
	}
	data := map[string][]byte{}
	for _, kv := range keys.items {
		key, ok := asText(kv)
		if !ok {
			return nil, fmt.Errorf("torch legacy: storage key is a %s, want str", pyTypeName(kv))
		}
		s := st.byKey[key]
		if s == nil {
			return nil, fmt.Errorf("torch legacy: data section has storage %q that the pickle never names", key)
		}
		if _, dup := data[key]; dup {
			return nil, fmt.Errorf("torch legacy: storage %q appears twice in the data section", key)
		}
		if len(buf)-pos < 8 {
			return nil, fmt.Errorf("torch legacy: truncated before the size of storage %q (byte %d of %d)", key, pos, len(buf))
		}
		count := binary.LittleEndian.Uint64(buf[pos:])
		pos += 8
		if count != uint64(s.numel) {
			return nil, fmt.Errorf("torch legacy: storage %q has %d elements in the data section, the pickle says %d", key, count, s.numel)
		}
		n := s.numel * dtypeSizes[s.dtype]
		if len(buf)-pos < n {
			return nil, fmt.Errorf("torch legacy: truncated in storage %q: needs %d bytes at byte %d, file has %d",
				key, n, pos, len(buf))
		}
		data[key] = buf[pos : pos+n]
		pos += n
	}
	refs, err := stateDictRefs(top)
	if err != nil {
		return nil, fmt.Errorf("torch legacy: %w", err)
	}
	sd, err := buildStateDict(refs, func(s *storageRef) ([]byte, error) {
		b, ok := data[s.key]
		if !ok {
			return nil, fmt.Errorf("storage %q has no data in the file", s.key)
		}
		return b, nil
	})
	if err != nil {
		return nil, fmt.Errorf("torch legacy: %w", err)
	}
	return sd, nil
}

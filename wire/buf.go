package wire

import "sync"

// Buf is a pooled byte buffer. Frames travel through a node in Bufs so that
// forwarding a frame allocates nothing: the reader of one link fills it and
// the writer of the next link returns it to the pool.
type Buf struct {
	B     []byte
	class int // index into pools, -1 for unpooled
}

var bufClasses = [...]int{512, 4 << 10, 40 << 10, MaxFrameSize + FrameHeaderLen}

var pools [len(bufClasses)]sync.Pool

func init() {
	for i := range pools {
		size, class := bufClasses[i], i
		pools[i].New = func() any { return &Buf{B: make([]byte, 0, size), class: class} }
	}
}

// GetBuf returns a buffer of length n (n <= MaxFrameSize).
func GetBuf(n int) *Buf {
	for i, size := range bufClasses {
		if n <= size {
			b := pools[i].Get().(*Buf)
			b.B = b.B[:n]
			return b
		}
	}
	return &Buf{B: make([]byte, n), class: -1}
}

// PutBuf returns b to its pool. b must not be used afterwards. A buffer
// whose slice was cut from the front (so that it lost capacity) is left to
// the garbage collector rather than pooled too small for its class.
func PutBuf(b *Buf) {
	if b == nil || b.class < 0 || cap(b.B) < bufClasses[b.class] {
		return
	}
	b.B = b.B[:0]
	pools[b.class].Put(b)
}

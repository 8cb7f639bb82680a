package metad

import "testing"

func TestPlanLeadersEvensCounts(t *testing.T) {
	a, b, c := Addr{Host: "a", Port: 1}, Addr{Host: "b", Port: 1}, Addr{Host: "c", Port: 1}
	sp := &Space{ReplicaFactor: 3, Parts: map[int32][]Addr{}}
	leaders := map[int32]Addr{}
	for p := int32(1); p <= 6; p++ {
		sp.Parts[p] = []Addr{a, b, c}
		leaders[p] = a // a leads everything, c is offline
	}
	online := map[Addr]bool{a: true, b: true}
	moves := planLeaders(sp, leaders, online)
	for _, mv := range moves {
		if mv.from != leaders[mv.part] || mv.to == c {
			t.Fatalf("bad move %+v", mv)
		}
		leaders[mv.part] = mv.to
	}
	count := map[Addr]int{}
	for _, l := range leaders {
		count[l]++
	}
	if count[a] != 3 || count[b] != 3 || len(moves) != 3 {
		t.Fatalf("after %d moves: %v, want a and b leading 3 each", len(moves), count)
	}
	if again := planLeaders(sp, leaders, online); len(again) != 0 {
		t.Fatalf("balanced leaders planned again: %+v", again)
	}
}

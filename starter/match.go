package main

import (
	"sort"
	"strings"
	"unicode"
)

// Name matching for the mapping check's suggestions. Operators name an access group after the room or pass
// it opens ("Meeting Room A", "meeting-room-a", "Day Pass"), so similar names are the best hint there is. The
// score is a token overlap (Jaccard) that forgives small typos inside long tokens but not in short ones:
// "Room A" and "Room B" differ, "Meeting Rom A" and "Meeting Room A" do not.

// normTokens lower-cases s and splits it into letter/digit runs.
func normTokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// levenshtein is the edit distance between a and b (insertions, deletions, substitutions), on runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// tokensMatch: equal, or a typo in a word long enough for one to be plausible. Numbers must be equal: desk 12
// is not desk 13.
func tokensMatch(a, b string) bool {
	if a == b {
		return true
	}
	if isNumber(a) || isNumber(b) {
		return false
	}
	n := max(len([]rune(a)), len([]rune(b)))
	d := levenshtein(a, b)
	return (n >= 4 && d <= 1) || (n >= 8 && d <= 2)
}

func isNumber(s string) bool {
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return s != ""
}

// similarity scores two names from 0 (nothing in common) to 1 (same words).
func similarity(a, b string) float64 {
	ta, tb := normTokens(a), normTokens(b)
	if len(ta) == 0 || len(tb) == 0 {
		return 0
	}
	if strings.Join(ta, "") == strings.Join(tb, "") {
		return 1 // "MeetingRoom" and "meeting room"
	}
	used := make([]bool, len(tb))
	common := 0
	for _, x := range ta {
		for j, y := range tb {
			if !used[j] && tokensMatch(x, y) {
				used[j] = true
				common++
				break
			}
		}
	}
	score := float64(common) / float64(len(ta)+len(tb)-common)
	if shorter := min(len(ta), len(tb)); shorter >= 2 && common == shorter {
		// Every word of one name is in the other ("Day Pass", "Day pass (all doors)"): a likely match,
		// unlike names that differ in a word both have ("Meeting Room A", "Meeting Room B").
		score = max(score, containedScore)
	}
	return score
}

// containedScore is the score of one name contained in the other, above minSuggestScore.
const containedScore = 0.65

// idSimilarity catches a mistyped group id (a character or two off); ids otherwise share nothing meaningful.
func idSimilarity(a, b string) float64 {
	a, b = strings.ToLower(strings.TrimSpace(a)), strings.ToLower(strings.TrimSpace(b))
	n := max(len([]rune(a)), len([]rune(b)))
	if n == 0 {
		return 0
	}
	s := 1 - float64(levenshtein(a, b))/float64(n)
	if s < 0.85 {
		return 0
	}
	return s
}

// minSuggestScore keeps weak matches out of the suggestions: "Meeting Room B" for "Meeting Room A" scores 0.5.
const minSuggestScore = 0.6

// suggestion is an access group that may be the one meant.
type suggestion struct {
	GroupID   string  `json:"group_id"`
	GroupName string  `json:"group_name,omitempty"`
	Score     float64 `json:"score"`
}

// candidateGroup is what suggestions are chosen from.
type candidateGroup struct {
	ID, Name, Reference string
}

// suggest returns up to three groups whose name (or customer reference) resembles name, or whose id resembles
// wrongID (when given), best first.
func suggest(name, wrongID string, groups []candidateGroup) []suggestion {
	var out []suggestion
	for _, g := range groups {
		score := max(similarity(name, g.Name), similarity(name, g.Reference))
		if wrongID != "" {
			score = max(score, idSimilarity(wrongID, g.ID))
		}
		if score >= minSuggestScore {
			label := g.Name
			if label == "" {
				label = g.Reference
			}
			out = append(out, suggestion{GroupID: g.ID, GroupName: label, Score: float64(int(score*100)) / 100})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].GroupID < out[j].GroupID
	})
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}

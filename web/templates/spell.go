package templates

import (
	"strings"
	"unicode"
)

// A passcode read out over a phone goes wrong at the characters that look
// or sound alike. The passcode page shows it in groups, each character
// marked by its kind (so 0 and O, 1, l and I differ by more than the
// font), and spells every character out on request.

// passcodeGroup is how many characters a group shows.
const passcodeGroup = 4

// passChar is one character of a passcode as the page shows it.
type passChar struct {
	Char  string
	Kind  string // "upper", "lower", "digit" or "symbol"
	Words string // how to say it
}

// passcodeChars splits a passcode into groups of characters.
func passcodeChars(code string) [][]passChar {
	var groups [][]passChar
	for i, r := range []rune(code) {
		if i%passcodeGroup == 0 {
			groups = append(groups, nil)
		}
		kind, words := spell(r)
		groups[len(groups)-1] = append(groups[len(groups)-1], passChar{Char: string(r), Kind: kind, Words: words})
	}
	return groups
}

// nato is the NATO spelling alphabet.
var nato = [26]string{"Alfa", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliett",
	"Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo", "Sierra", "Tango", "Uniform", "Victor",
	"Whiskey", "X-ray", "Yankee", "Zulu"}

var digitWords = [10]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// symbolWords name the ASCII symbols the way a helpdesk says them.
var symbolWords = map[rune]string{
	'!': "exclamation mark", '"': "double quote", '#': "hash", '$': "dollar sign", '%': "percent sign",
	'&': "ampersand", '\'': "apostrophe", '(': "opening parenthesis", ')': "closing parenthesis", '*': "asterisk",
	'+': "plus sign", ',': "comma", '-': "minus sign (hyphen)", '.': "full stop (dot)", '/': "forward slash",
	':': "colon", ';': "semicolon", '<': "less-than sign", '=': "equals sign", '>': "greater-than sign",
	'?': "question mark", '@': "at sign", '[': "opening square bracket", '\\': "backslash",
	']': "closing square bracket", '^': "caret", '_': "underscore", '`': "backtick", '{': "opening curly brace",
	'|': "vertical bar", '}': "closing curly brace", '~': "tilde", ' ': "space",
}

// spell returns a character's kind and how to say it: "capital X, as in
// X-ray", "five", "question mark".
func spell(r rune) (kind, words string) {
	switch {
	case r >= 'A' && r <= 'Z':
		return "upper", "capital " + string(r) + ", as in " + nato[r-'A']
	case r >= 'a' && r <= 'z':
		return "lower", "small " + string(r) + ", as in " + strings.ToLower(nato[r-'a'])
	case r >= '0' && r <= '9':
		return "digit", "the digit " + digitWords[r-'0']
	case symbolWords[r] != "":
		return "symbol", symbolWords[r]
	case unicode.IsUpper(r):
		return "upper", "capital " + string(r)
	case unicode.IsLetter(r):
		return "lower", "small " + string(r)
	}
	return "symbol", "the character " + visible(string(r))
}

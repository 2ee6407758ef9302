// Package creditcode validates and builds China's 18-character unified social
// credit code (统一社会信用代码, GB 32100-2015), the key of every company in Xinyi.
//
// Layout of a code (positions 1-based):
//
//	1      registration authority (登记管理部门): 1-9, A, N or Y (9 = market regulation)
//	2      organization type (机构类别) under that authority (9-1 enterprise, 9-2 sole trader, ...)
//	3-8    administrative division code (行政区划码, GB/T 2260), 6 digits
//	9-17   organization code (组织机构代码, GB 11714): 8 body characters + its own check character
//	18     check character over positions 1-17, modulo 31
//
// Every character is from the 31-character set "0123456789ABCDEFGHJKLMNPQRTUWXY"
// (no I, O, S, V, Z). Validate refuses anything else with an error naming the
// position and what is wrong; New computes both check characters.
//
//	code, err := creditcode.New('9', '1', "440604", "MA4UJ7K2")
//	err = creditcode.Validate(code) // nil
package creditcode

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Charset is the set of characters a unified social credit code may contain; a
// character's value in the final check is its index here.
const Charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// Length is the number of characters of a code.
const Length = 18

// Sentinel errors. Every validation error wraps ErrInvalid; a wrong check
// character (position 17 or 18) also wraps ErrCheckDigit.
var (
	ErrInvalid    = errors.New("creditcode: invalid unified social credit code")
	ErrCheckDigit = errors.New("creditcode: check character mismatch")
)

// weights of positions 1-17 in the final check: 3^(i-1) mod 31.
var weights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// orgWeights are the GB 11714 weights of the 8 organization-code body characters.
var orgWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// orgTypes lists the organization types allowed under each registration authority.
var orgTypes = map[byte]string{
	'1': "1239",   // 机构编制: 机关, 事业单位, 群众团体, 其他
	'2': "19",     // 外交
	'3': "123459", // 司法行政: 律师事务所, 公证处, 法律服务所, 司法鉴定, 仲裁委员会, 其他
	'4': "19",     // 文化
	'5': "1239",   // 民政: 社会团体, 民办非企业单位, 基金会, 其他
	'6': "129",    // 旅游
	'7': "1239",   // 宗教
	'8': "19",     // 工会
	'9': "123",    // 市场监管: 企业, 个体工商户, 农民专业合作社
	'A': "19",     // 中央军委改革和编制办公室
	'N': "12349",  // 农业
	'Y': "1",      // 其他
}

// provinces are the first two digits of valid GB/T 2260 division codes ("10" is
// used by national-level registrations, with division 100000).
var provinces = map[string]bool{
	"10": true, "11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true, "31": true, "32": true, "33": true, "34": true,
	"35": true, "36": true, "37": true, "41": true, "42": true, "43": true, "44": true,
	"45": true, "46": true, "50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true, "71": true, "81": true, "82": true,
}

// charValues maps a byte to its index in Charset, or -1.
var charValues = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(Charset) {
		t[Charset[i]] = int8(i)
	}
	return t
}()

func charValue(c byte) int { return int(charValues[c]) }

// orgValue is a character's value in GB 11714: digits 0-9, letters A-Z 10-35.
func orgValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return -1
}

// OrgCheckChar returns the GB 11714 check character of an 8-character
// organization-code body (digits and upper-case letters).
func OrgCheckChar(body string) (byte, error) {
	if len(body) != 8 {
		return 0, fmt.Errorf("%w: organization code body %q has %d characters, want 8", ErrInvalid, body, len(body))
	}
	sum := 0
	for i := range 8 {
		v := orgValue(body[i])
		if v < 0 {
			return 0, fmt.Errorf("%w: organization code body %q: character %q at position %d is not a digit or upper-case letter", ErrInvalid, body, body[i], i+1)
		}
		sum += v * orgWeights[i]
	}
	switch r := 11 - sum%11; r {
	case 10:
		return 'X', nil
	case 11:
		return '0', nil
	default:
		return byte('0' + r), nil
	}
}

// CheckChar returns the final (18th) check character of the first 17 characters
// of a code.
func CheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("%w: %q has %d characters, want 17 before the check character", ErrInvalid, first17, len(first17))
	}
	sum := 0
	for i := range 17 {
		v := charValue(first17[i])
		if v < 0 {
			return 0, fmt.Errorf("%w: character %q at position %d is not in %s", ErrInvalid, first17[i], i+1, Charset)
		}
		sum += v * weights[i]
	}
	return Charset[(31-sum%31)%31], nil
}

// New builds a code from its parts and computes both check characters:
// authority and orgType are positions 1 and 2, division the 6-digit
// administrative division, orgBody the 8-character organization-code body.
func New(authority, orgType byte, division, orgBody string) (string, error) {
	oc, err := OrgCheckChar(orgBody)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(Length)
	b.WriteByte(authority)
	b.WriteByte(orgType)
	b.WriteString(division)
	b.WriteString(orgBody)
	b.WriteByte(oc)
	first17 := b.String()
	if err := validateParts(first17); err != nil {
		return "", err
	}
	c, err := CheckChar(first17)
	if err != nil {
		return "", err
	}
	return first17 + string(c), nil
}

// Validate reports whether code is a well-formed unified social credit code with
// correct check characters. The error names the position and the fault.
func Validate(code string) error {
	for i := range len(code) {
		if code[i] >= utf8.RuneSelf {
			r, _ := utf8.DecodeRuneInString(code[i:])
			pos := utf8.RuneCountInString(code[:i]) + 1
			return fmt.Errorf("%w: %q: character %q at position %d is not in %s", ErrInvalid, code, r, pos, Charset)
		}
	}
	if len(code) != Length {
		return fmt.Errorf("%w: %q has %d characters, want %d", ErrInvalid, code, len(code), Length)
	}
	if err := validateParts(code[:17]); err != nil {
		return err
	}
	want, err := CheckChar(code[:17])
	if err != nil {
		return err
	}
	if code[17] != want {
		if charValue(code[17]) < 0 {
			return fmt.Errorf("%w: %q: character %q at position 18 is not in %s", ErrInvalid, code, code[17], Charset)
		}
		return fmt.Errorf("%w (%w): %q: check character is %q, want %q", ErrInvalid, ErrCheckDigit, code, code[17], want)
	}
	return nil
}

// validateParts checks positions 1-17 (charset, authority, type, division,
// organization-code check).
func validateParts(s string) error {
	for i := range len(s) {
		if charValue(s[i]) < 0 {
			c := s[i]
			hint := ""
			if c >= 'a' && c <= 'z' {
				hint = " (codes use upper case)"
			}
			return fmt.Errorf("%w: %q: character %q at position %d is not in %s%s", ErrInvalid, s, c, i+1, Charset, hint)
		}
	}
	types, ok := orgTypes[s[0]]
	if !ok {
		return fmt.Errorf("%w: %q: registration authority %q (position 1) is not one of 1-9, A, N, Y", ErrInvalid, s, s[0])
	}
	if strings.IndexByte(types, s[1]) < 0 {
		return fmt.Errorf("%w: %q: organization type %q (position 2) is not valid under authority %q (want one of %s)", ErrInvalid, s, s[1], s[0], types)
	}
	div := s[2:8]
	for i := range 6 {
		if div[i] < '0' || div[i] > '9' {
			return fmt.Errorf("%w: %q: administrative division %q (positions 3-8) must be 6 digits", ErrInvalid, s, div)
		}
	}
	if !provinces[div[:2]] {
		return fmt.Errorf("%w: %q: administrative division %q (positions 3-8) has no province %q", ErrInvalid, s, div, div[:2])
	}
	oc, err := OrgCheckChar(s[8:16])
	if err != nil {
		return err
	}
	if s[16] != oc {
		return fmt.Errorf("%w (%w): %q: organization code %s check character (position 17) is %q, want %q", ErrInvalid, ErrCheckDigit, s, s[8:17], s[16], oc)
	}
	return nil
}

// Normalize trims spaces and upper-cases s, the forgiving step before Validate
// for codes typed by people.
func Normalize(s string) string {
	return strings.ToUpper(strings.TrimSpace(s))
}

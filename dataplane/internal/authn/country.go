package authn

import (
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/dataplane/internal/netrules"
)

// iso3166 lists the officially assigned ISO 3166-1 alpha-2 codes. The
// values CDNs use for "not a country" (Cloudflare's XX and T1 for Tor,
// user-assigned codes such as XK or ZZ) are not in it, so they read as
// unknown: a policy on request.country never matches a guess.
const iso3166 = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU " +
	"ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ " +
	"LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA " +
	"RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"

// countries is iso3166 as a set, built once.
var countries = func() map[string]bool {
	m := make(map[string]bool, 249)
	for _, c := range strings.Fields(iso3166) {
		m[c] = true
	}
	return m
}()

// country returns the ISO 3166-1 alpha-2 code (upper case) that the
// configured header carries, or "" (unknown). The header is believed only
// when the connection comes from a trusted proxy, which sets it from its
// geo-IP database; from anyone else it is what the agent chose to claim.
// Several values, or a value that is not an assigned code, are unknown.
func (a *Authenticator) country(r *http.Request) string {
	if a.cfg.CountryHeader == "" || !netrules.FromTrustedProxy(r, a.cfg.TrustedProxies) {
		return ""
	}
	values := r.Header.Values(a.cfg.CountryHeader)
	if len(values) != 1 {
		return ""
	}
	return parseCountry(values[0])
}

// parseCountry normalises an ISO 3166-1 alpha-2 code (any case, surrounding
// spaces) to upper case; "" when v is not an assigned code.
func parseCountry(v string) string {
	v = strings.TrimSpace(v)
	if len(v) != 2 {
		return ""
	}
	v = strings.ToUpper(v)
	if !countries[v] {
		return ""
	}
	return v
}

package demodata

import "fmt"

// The reference data every table refers to: real, well-known networks and
// countries, so demo answers look like the real API's.

type network struct {
	number  int64
	name    string
	country string
	transit bool // large transit providers: dependencies of many origins
}

var networks = []network{
	{0, "IANA-RSVD-0 Reserved AS (global graph), ZZ", "ZZ", false},
	{174, "COGENT-174 - Cogent Communications, US", "US", true},
	{701, "UUNET - MCI Communications Services, Inc. d/b/a Verizon Business, US", "US", true},
	{1273, "CW Vodafone Group PLC, GB", "GB", true},
	{1299, "TWELVE99 Arelion Sweden AB, SE", "SE", true},
	{2497, "IIJ Internet Initiative Japan Inc., JP", "JP", true},
	{2516, "KDDI KDDI CORPORATION, JP", "JP", false},
	{2914, "NTT-LTD-2914 - NTT America, Inc., US", "US", true},
	{3257, "GTT-BACKBONE GTT Communications Inc., US", "US", true},
	{3320, "DTAG Deutsche Telekom AG, DE", "DE", true},
	{3356, "LEVEL3 - Level 3 Parent, LLC, US", "US", true},
	{3491, "BTN-ASN - PCCW Global, Inc., HK", "HK", true},
	{4134, "CHINANET-BACKBONE No.31,Jin-rong Street, CN", "CN", false},
	{4637, "ASN-TELSTRA-GLOBAL Telstra Global, HK", "HK", true},
	{4713, "OCN NTT Communications Corporation, JP", "JP", false},
	{5400, "BT British Telecommunications PLC, GB", "GB", false},
	{5511, "OPENTRANSIT Orange S.A., FR", "FR", true},
	{6453, "AS6453 - TATA COMMUNICATIONS (AMERICA) INC, US", "US", true},
	{6762, "SEABONE-NET TELECOM ITALIA SPARKLE S.p.A., IT", "IT", true},
	{6939, "HURRICANE - Hurricane Electric LLC, US", "US", true},
	{7018, "ATT-INTERNET4 - AT&T Services, Inc., US", "US", false},
	{7500, "M-ROOT-DNS WIDE Project, JP", "JP", false},
	{7922, "COMCAST-7922 - Comcast Cable Communications, LLC, US", "US", false},
	{8075, "MICROSOFT-CORP-MSN-AS-BLOCK - Microsoft Corporation, US", "US", false},
	{9002, "RETN-AS RETN Limited, GB", "GB", true},
	{9318, "SKB-AS SK Broadband Co Ltd, KR", "KR", false},
	{12322, "PROXAD Free SAS, FR", "FR", false},
	{12389, "ROSTELECOM-AS PJSC Rostelecom, RU", "RU", false},
	{13335, "CLOUDFLARENET - Cloudflare, Inc., US", "US", false},
	{15169, "GOOGLE - Google LLC, US", "US", false},
	{16509, "AMAZON-02 - Amazon.com, Inc., US", "US", false},
	{17676, "GIGAINFRA SoftBank Corp., JP", "JP", false},
	{20115, "CHARTER-20115 - Charter Communications, US", "US", false},
	{20940, "AKAMAI-ASN1 Akamai International B.V., NL", "NL", false},
	{25152, "K-ROOT-SERVER Reseaux IP Europeens Network Coordination Centre (RIPE NCC), NL", "NL", false},
	{28573, "Claro NXT Telecomunicacoes Ltda, BR", "BR", false},
	{32934, "FACEBOOK - Meta Platforms, Inc., US", "US", false},
	{36992, "ETISALAT-MISR, EG", "EG", false},
	{37100, "SEACOM-AS, MU", "MU", true},
	{-4, "IXP: AMS-IX, NL", "NL", false},
	{-18, "IXP: LINX LON1, GB", "GB", false},
	{-26, "IXP: DE-CIX Frankfurt, DE", "DE", false},
	{-92, "IXP: JPNAP Tokyo, JP", "JP", false},
}

var countries = [][2]string{
	{"AP", "Asia/Pacific Region"}, {"EU", "European Union"}, {"ZZ", "Unknown"},
	{"BR", "Brazil"}, {"CH", "Switzerland"}, {"CN", "China"}, {"DE", "Germany"}, {"EG", "Egypt"},
	{"FR", "France"}, {"GB", "United Kingdom"}, {"HK", "Hong Kong"}, {"ID", "Indonesia"},
	{"IT", "Italy"}, {"JP", "Japan"}, {"KR", "Korea, Republic of"}, {"MU", "Mauritius"},
	{"MX", "Mexico"}, {"NL", "Netherlands"}, {"RU", "Russian Federation"}, {"SE", "Sweden"},
	{"SG", "Singapore"}, {"UA", "Ukraine"}, {"US", "United States"},
}

// smallOrigins are the origin networks of the small scale: the ones demos
// and tests ask about, and enough others for every table to have content.
func smallOrigins() []int64 {
	return []int64{174, 1299, 2497, 2914, 3320, 3356, 4134, 4713, 7018, 7922, 12322, 13335, 15169, 16509, 20940, 28573, 32934, 36992}
}

// cities are Atlas "CT" locations, named as IHR names them.
var cities = []string{
	"Tokyo, Tokyo, JP", "Osaka, Osaka, JP", "Amsterdam, North Holland, NL",
	"New York City, New York, US", "Ashburn, Virginia, US", "London, England, GB",
	"Paris, Île-de-France, FR", "Frankfurt am Main, Hesse, DE", "Singapore, Central Singapore, SG",
	"São Paulo, São Paulo, BR",
}

// syntheticName names the generated networks of the larger scales.
func syntheticName(n int64, country string) string {
	return fmt.Sprintf("AS%d-NET Demo Networks %d, %s", n, n%97, country)
}

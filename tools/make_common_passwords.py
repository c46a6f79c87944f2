"""Regenerate ``src/exoguard/web/data/common-passwords.txt`` (no network).

The seeds are the passwords that top every published leak-frequency list (the SecLists
"10k most common", the NCSC "100k most common" list drawn from Have I Been Pwned, the
RockYou leak): words, names, keyboard walks and digit runs. Each seed is also tried with
the suffixes people add to meet length or digit rules (``1``, ``123``, ``!``, years).
Only candidates of 8+ characters are kept: shorter passwords are refused by length.

Run: ``python tools/make_common_passwords.py``
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src/exoguard/web/data/common-passwords.txt"
MIN_LENGTH = 8

WHOLE = """
password 12345678 123456789 1234567890 12345678910 0123456789 87654321 987654321 9876543210
11111111 22222222 33333333 44444444 55555555 66666666 77777777 88888888 99999999 00000000
111111111 1111111111 123123123 123321123 12341234 12344321 11223344 11112222 12121212
13131313 121212121 147258369 159753159 147852369 123654789 741852963 963852741 789456123
456789123 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx 1qaz2wsx3edc zaq12wsx zaq1zaq1 qazwsxedc
qwertyuiop qwertyui qwerty123 qwerty1234 qwerty12345 qwer1234 1234qwer asdf1234 1234asdf
asdfghjk asdfghjkl zxcvbnm1 zxcvbnm123 qazwsx123 qweasdzxc qweqweqwe asdasdasd zxczxczxc
abcd1234 abc12345 abc123456 abcdefgh abcdefg1 aaaaaaaa aaaaaaa1 a1b2c3d4 a1s2d3f4 1a2b3c4d
passw0rd p@ssw0rd p@ssword pa55word pa55w0rd passwort motdepasse contrasena wachtwoord
iloveyou iloveyou1 iloveyou2 loveyou1 trustno1 letmein1 welcome1 welcome123 changeme
changeme1 changeme123 default1 administrator admin123 admin1234 adminadmin rootroot
root1234 toor1234 guest123 test1234 testtest tester123 temp1234 secret123 password!
correcthorsebatterystaple correcthorse batterystaple opensesame whatever1 nothing1
anything letmeinnow iloveyou! blink182 princess1 sunshine1 football1 baseball1
starwars1 superman1 batman123 spiderman michael1 jordan23 michaeljordan 1234567a
a1234567 qwertyu1 q1w2e3r4 q1w2e3r4t5 1qazxsw2 xsw21qaz zaq!2wsx 1qaz!qaz !qaz2wsx
"""

WORDS = """
password pass passwd admin administrator root user guest login welcome letmein master
secret test qwerty monkey dragon shadow sunshine princess football baseball soccer hockey
basketball superman batman spiderman starwars pokemon naruto minecraft fortnite iloveyou
trustno1 whatever freedom ninja mustang michael jordan jennifer hunter ranger buster
harley thomas charlie robert daniel matthew andrew joshua jessica ashley amanda hannah
michelle nicole samantha elizabeth sophie olivia emily jasmine tigger tiger lion eagle
falcon phoenix pepper ginger cookie cheese chocolate butterfly flower rainbow summer winter
spring autumn august october november december january february monday friday sunday
computer internet google facebook yahoo hotmail gmail apple samsung nokia windows linux
mercedes ferrari porsche corvette yamaha honda toyota chevy ford cowboys steelers lakers
yankees arsenal chelsea liverpool barcelona madrid juventus manchester united lovers
lovely loveme love angel angels babygirl baby sweety sweetheart honey darling beautiful
precious friends family jesus christ heaven blessed faith hope destiny forever
killer hello hellokitty kitty puppy doggy kitten bailey maggie molly buddy max rocky
lucky diamond silver golden gold money dollar cash rich success winner champion victory
matrix hacker cyber access server network security system oracle dolphin whale shark
orange banana apple cherry strawberry lemon mango peach qwertyuiop asdfgh zxcvbn qazwsx
football1 america canada london paris berlin mexico brazil india china japan russia
music guitar rockstar rock metal jazz dance party happy smile funny crazy cool awesome
super magic wizard merlin gandalf frodo hobbit zelda mario sonic tetris gamer player
maverick midnight danielle cocacola pepsi coffee thunder lightning storm shadow1 silence
jordan23 chicago boston dallas denver florida texas california london1 snoopy garfield
scooter tucker bandit buster1 rangers patriots packers eagles giants raiders broncos
soccer1 hockey1 tennis golf racing cricket rugby boxing karate samurai warrior viking
knight pirate captain soldier sniper ghost phantom demon devil angel1 god goddess
qwerty1 abc123 letmein1 welcome1 monkey1 dragon1 master1 hello1 charlie1 password1
"""

SUFFIXES = (
    "",
    "1",
    "12",
    "123",
    "1234",
    "12345",
    "123456",
    "!",
    "1!",
    "123!",
    "01",
    "007",
    "11",
    "13",
    "21",
    "22",
    "23",
    "69",
    "99",
    "2020",
    "2021",
    "2022",
    "2023",
    "2024",
    "2025",
    "2026",
)
#: Digits some people put first instead.
PREFIXES = ("1", "123")


def candidates() -> list[str]:
    found: set[str] = set()
    for word in WHOLE.split():
        found.add(word.lower())
    for word in WORDS.split():
        for suffix in SUFFIXES:
            found.add(f"{word}{suffix}".lower())
        for prefix in PREFIXES:
            found.add(f"{prefix}{word}".lower())
    return sorted(p for p in found if len(p) >= MIN_LENGTH)


def main() -> None:
    lines = candidates()
    header = [
        "# The most common passwords (8+ characters), lower case; regenerate with",
        "# tools/make_common_passwords.py. Accounts may not use any of them.",
    ]
    OUT.write_text("\n".join(header + lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} passwords -> {OUT}")  # noqa: T201 - a command-line tool


if __name__ == "__main__":
    main()

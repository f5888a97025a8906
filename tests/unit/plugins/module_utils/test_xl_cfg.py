# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""xl.cfg reading and writing, disk and vif specs, derived MACs.

The inputs of the parse cases are xl.cfg text written for these tests, in the forms xl.cfg(5)
and libxlu's grammar (libxlu_cfg_l.l / libxlu_cfg_y.y) allow.  The round-trip properties are
checked with hypothesis over generated configurations.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.xenfleet.xen.plugins.module_utils import xl_cfg
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlCfgSyntaxError, XlValidationError

PARSE_CASES = [
    ('empty', '', {}),
    ('only-comments', '# nothing\n\n   # more\n', {}),
    ('double-quoted', 'name = "web1"\n', {'name': 'web1'}),
    ('single-quoted', "name = 'web1'\n", {'name': 'web1'}),
    ('no-spaces', 'name="web1"\n', {'name': 'web1'}),
    ('no-final-newline', 'memory = 512', {'memory': 512}),
    ('semicolons', 'name="h0"; type="hvm"\n', {'name': 'h0', 'type': 'hvm'}),
    ('trailing-semicolon', 'a = 1;\n', {'a': 1}),
    ('decimal', 'memory = 1024\n', {'memory': 1024}),
    ('zero', 'acpi = 0\n', {'acpi': 0}),
    ('hex', 'x = 0x1f\n', {'x': 31}),
    ('octal', 'x = 010\n', {'x': 8}),
    ('not-a-number-stays-text', 'x = 09\n', {'x': '09'}),
    ('comment-after-value', 'vcpus = 2 # two\n', {'vcpus': 2}),
    ('hash-in-string', 'extra = "a#b"\n', {'extra': 'a#b'}),
    ('escapes', r'extra = "say \"hi\" \\ it\tgoes\n"' + '\n', {'extra': 'say "hi" \\ it\tgoes\n'}),
    ('single-in-double', 'x = "it\'s"\n', {'x': "it's"}),
    ('escaped-single', "x = 'it\\'s'\n", {'x': "it's"}),
    ('list', "vif = ['mac=00:16:3e:00:00:01,bridge=xenbr0']\n", {'vif': ['mac=00:16:3e:00:00:01,bridge=xenbr0']}),
    ('empty-list', 'pci = []\n', {'pci': []}),
    ('empty-list-multiline', 'pci = [\n]\n', {'pci': []}),
    ('multiline-list-trailing-comma', "disk = [\n  'a',\n  'b',\n]\n", {'disk': ['a', 'b']}),
    ('list-comments-inside', "disk = [ # disks\n  'a', # root\n\n  'b'\n  ]\n", {'disk': ['a', 'b']}),
    ('list-newline-before-comma', "disk = ['a'\n, 'b']\n", {'disk': ['a', 'b']}),
    ('heterogeneous-nested', "x = [1, 'a', [2, []]]\n", {'x': [1, 'a', [2, []]]}),
    ('last-wins', 'memory = 256\nmemory = 512\n', {'memory': 512}),
    ('append-string', 'extra = "a"\nextra += " b"\n', {'extra': 'a b'}),
    ('append-list', "disk = ['a']\ndisk += ['b']\n", {'disk': ['a', 'b']}),
    ('append-without-previous', 'extra += "x"\n', {'extra': 'x'}),
    ('dotted-key', 'device_model_args.x = "1"\n', {'device_model_args.x': '1'}),
    ('tabs', '\tname\t=\t"w"\t\n', {'name': 'w'}),
    ('utf8', 'x = "caf\u00e9"\n', {'x': 'caf\u00e9'}),
    ('comment-at-eof-without-newline', 'a = 1\n# end', {'a': 1}),
]


@pytest.mark.parametrize('text, expected', [c[1:] for c in PARSE_CASES], ids=[c[0] for c in PARSE_CASES])
def test_parse(text, expected):
    assert xl_cfg.parse(text) == expected


ERROR_CASES = [
    # (id, text, line number, fragment of the reason)
    ('value-on-next-line', 'name =\n"x"\n', 1, 'same line'),
    ('upper-case-key', 'a = 1\nName = "x"\n', 2, 'lower case'),
    ('unterminated-string', 'a = 1\n\nb = "x\n', 3, 'unterminated string'),
    ('string-across-lines', 'extra = "a\nb"\n', 1, 'unterminated string'),
    ('python-negative', 'a = 1\nb = -1\n', 2, 'Python'),
    ('python-float', 'x = 1.5\n', 1, 'Python'),
    ('python-call', 'x = foo()\n', 1, 'Python'),
    ('python-true', 'x = True\n', 1, 'lower case'),
    ('bare-word', 'x = hvm\n', 1, 'expected a value'),
    ('double-comma', 'disk = [1,,2]\n', 1, 'expected a value'),
    ('unclosed-list', "disk = [\n 'a',\n 'b'\n", 4, 'opened on line 1 is not closed'),
    ('unclosed-list-after-comma', "disk = [\n 'a',\n", 3, 'value is missing'),
    ('two-values', 'a = 1 2\n', 1, 'newline or ";"'),
    ('no-equals', 'a 1\n', 1, '"=" or "+="'),
    ('only-value', '"x"\n', 1, 'expected a key'),
    ('crlf', 'a = 1\r\nb = 2\r\n', 1, 'CRLF'),
    ('append-mismatch', "a = 'x'\na += ['y']\n", 2, 'mixes a list'),
    ('hex-escape', 'a = "\\x41"\n', 1, 'numeric escape'),
    ('bad-escape', 'a = "\\q"\n', 1, 'after backslash'),
    ('colon', 'a = 1\n\n\nb : 2\n', 4, 'lexical error'),
    ('brace', 'a = {1}\n', 1, 'lexical error'),
    ('nul', 'a = 1\nb = "\0"\n', 2, 'NUL'),
    ('equals-at-eof', 'a =', 1, 'value is missing'),
]


@pytest.mark.parametrize('text, lineno, fragment', [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_parse_errors_name_the_line(text, lineno, fragment):
    with pytest.raises(XlCfgSyntaxError) as exc:
        xl_cfg.parse(text, source='/etc/xen/web1.cfg')
    assert exc.value.lineno == lineno
    assert fragment in exc.value.reason
    assert str(exc.value).startswith('/etc/xen/web1.cfg:%d: ' % lineno)


def test_render_is_deterministic_and_ordered():
    config = {
        'vif': ['mac=00:16:3e:00:00:01, bridge=xenbr0'],
        'zeta': 1,
        'name': 'web1',
        'on_crash': 'restart',
        'disk': ['format=raw, vdev=xvda, access=rw, target=/dev/vg0/web1'],
        'memory': 512,
        'type': 'pvh',
        'alpha': True,
        'skipped': None,
        'empty': [],
    }
    expected = (
        xl_cfg.HEADER
        + 'name = "web1"\n'
        'type = "pvh"\n'
        'memory = 512\n'
        'disk = [\n'
        '    "format=raw, vdev=xvda, access=rw, target=/dev/vg0/web1",\n'
        ']\n'
        'vif = [\n'
        '    "mac=00:16:3e:00:00:01, bridge=xenbr0",\n'
        ']\n'
        'on_crash = "restart"\n'
        'alpha = 1\n'
        'empty = []\n'
        'zeta = 1\n'
    )
    assert xl_cfg.render(config) == expected
    assert xl_cfg.render(dict(reversed(list(config.items())))) == expected
    assert xl_cfg.parse(expected) == xl_cfg.normalize(config)


def test_render_without_header():
    assert xl_cfg.render({'name': 'a'}, header=False) == 'name = "a"\n'


def test_header_says_managed_by_xenfleet():
    assert 'Managed by xenfleet' in xl_cfg.render({})


@pytest.mark.parametrize('config, fragment', [
    ({'Name': 'x'}, 'not valid'),
    ({'a b': 'x'}, 'not valid'),
    ({'memory': -1}, 'negative'),
    ({'x': 1.5}, 'float'),
    ({'x': {'a': 1}}, 'dict'),
    ({'x': 'a\0b'}, 'NUL'),
])
def test_render_refuses(config, fragment):
    with pytest.raises(XlValidationError, match=fragment):
        xl_cfg.render(config)


def test_render_escapes_quotes_and_newlines():
    text = xl_cfg.render({'extra': 'a "b" \\ c\nd\re\tf \'g\''}, header=False)
    assert text == 'extra = "a \\"b\\" \\\\ c\\nd\\re\tf \'g\'"\n'
    assert xl_cfg.parse(text) == {'extra': 'a "b" \\ c\nd\re\tf \'g\''}


# Strings of any character but NUL (newlines, quotes, backslashes, '#', non-ASCII included).
_text = st.text(alphabet=st.characters(blacklist_characters='\0', blacklist_categories=('Cs',)), max_size=40)
_scalar = st.one_of(_text, st.integers(min_value=0, max_value=2 ** 63), st.booleans())
_value = st.recursive(_scalar, lambda children: st.lists(children, max_size=5), max_leaves=12)
_key = st.from_regex(r'\A[a-z][._0-9a-z]{0,15}\Z')
_config = st.dictionaries(_key, _value, max_size=12)


@settings(max_examples=300, deadline=None)
@given(_config)
def test_round_trip_property(config):
    """Whatever render() writes, parse() reads back as the same (normalised) dict."""
    text = xl_cfg.render(config)
    assert xl_cfg.parse(text) == xl_cfg.normalize(config)
    # Rendering what was parsed gives the same text again (a fixed point: no churn in --diff).
    assert xl_cfg.render(xl_cfg.parse(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_parse_never_crashes(text):
    """Arbitrary input either parses or raises XlCfgSyntaxError with a line number."""
    try:
        xl_cfg.parse(text)
    except XlCfgSyntaxError as exc:
        assert exc.lineno is not None and 1 <= exc.lineno <= text.count('\n') + 1


# ----------------------------------------------------------------------------- disk specs

DISK_CASES = [
    # xl-disk-configuration(5) examples: the first four are equivalent, as are the cdrom ones.
    ('positional', '/dev/vg/guest-volume,,hda', {'target': '/dev/vg/guest-volume', 'vdev': 'hda'}),
    ('positional-all', '/dev/vg/guest-volume,raw,hda,rw',
     {'target': '/dev/vg/guest-volume', 'format': 'raw', 'vdev': 'hda', 'access': 'rw'}),
    ('named', 'format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume',
     {'format': 'raw', 'vdev': 'hda', 'access': 'rw', 'target': '/dev/vg/guest-volume'}),
    ('deprecated-raw', 'raw:/dev/vg/guest-volume,hda,w',
     {'format': 'raw', 'target': '/dev/vg/guest-volume', 'vdev': 'hda', 'access': 'rw'}),
    ('deprecated-phy', 'phy:/dev/vg0/web1,xvda,w',
     {'legacy_prefix': 'phy', 'target': '/dev/vg0/web1', 'vdev': 'xvda', 'access': 'rw'}),
    ('cdrom-flag', '/root/image.iso,,hdc,cdrom', {'target': '/root/image.iso', 'vdev': 'hdc', 'devtype': 'cdrom'}),
    ('cdrom-devtype', '/root/image.iso,raw,hdc,devtype=cdrom',
     {'target': '/root/image.iso', 'format': 'raw', 'vdev': 'hdc', 'devtype': 'cdrom'}),
    ('cdrom-named', 'format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso',
     {'format': 'raw', 'vdev': 'hdc', 'access': 'ro', 'devtype': 'cdrom', 'target': '/root/image.iso'}),
    ('cdrom-deprecated', 'raw:/root/image.iso,hdc:cdrom,ro',
     {'format': 'raw', 'target': '/root/image.iso', 'vdev': 'hdc', 'devtype': 'cdrom', 'access': 'ro'}),
    ('target-with-commas', 'vdev=xvdb, target=/srv/a,b=c.img',
     {'vdev': 'xvdb', 'target': '/srv/a,b=c.img'}),
    ('flags', 'vdev=xvda, discard, direct-io-safe, target=/dev/vg0/x',
     {'vdev': 'xvda', 'discard': True, 'direct-io-safe': True, 'target': '/dev/vg0/x'}),
    ('access-r', '/x.img,qcow2,xvda,r', {'target': '/x.img', 'format': 'qcow2', 'vdev': 'xvda', 'access': 'ro'}),
]


@pytest.mark.parametrize('spec, expected', [c[1:] for c in DISK_CASES], ids=[c[0] for c in DISK_CASES])
def test_parse_disk_spec(spec, expected):
    assert xl_cfg.parse_disk_spec(spec) == expected


@pytest.mark.parametrize('spec, fragment', [
    ('vdev=xvda, colour=red, target=/x', 'unknown parameter'),
    ('/x,raw,xvda,rw,extra', 'too many positional'),
    ('/x,raw,xvda,rx', 'access must be rw or ro'),
    ('vdev=xvda, vdev=xvdb', 'given twice'),
])
def test_parse_disk_spec_refuses(spec, fragment):
    with pytest.raises(XlValidationError, match=fragment):
        xl_cfg.parse_disk_spec(spec)


def test_render_disk_spec():
    disk = {'target': '/dev/vg0/web1', 'vdev': 'xvda', 'format': 'raw', 'access': 'rw'}
    assert xl_cfg.render_disk_spec(disk) == 'format=raw, vdev=xvda, access=rw, target=/dev/vg0/web1'


_word = st.text(alphabet=st.characters(whitelist_categories=('Ll', 'Lu', 'Nd'), whitelist_characters='_-./:'),
                min_size=1, max_size=12)
_disk = st.fixed_dictionaries(
    {'target': st.text(alphabet=st.characters(blacklist_characters='\n\0', blacklist_categories=('Cs',)), max_size=30)},
    optional=dict([(k, _word) for k in xl_cfg.DISK_KEYS if k not in ('access', 'devtype')]
                  + [('access', st.sampled_from(['rw', 'ro'])), ('devtype', st.sampled_from(['disk', 'cdrom']))]
                  + [(f, st.just(True)) for f in xl_cfg.DISK_FLAGS if f != 'cdrom']))


@settings(max_examples=200, deadline=None)
@given(_disk)
def test_disk_spec_round_trip(disk):
    assert xl_cfg.parse_disk_spec(xl_cfg.render_disk_spec(disk)) == disk


# ----------------------------------------------------------------------------- vif specs

VIF_CASES = [
    ('man-example', 'mac=00:16:3E:74:3d:76,model=rtl8139,bridge=xenbr0',
     {'mac': '00:16:3e:74:3d:76', 'model': 'rtl8139', 'bridge': 'xenbr0'}),
    ('spaces', 'mac=00:16:3e:00:00:01, bridge=xenbr1', {'mac': '00:16:3e:00:00:01', 'bridge': 'xenbr1'}),
    ('empty', '', {}),
    ('ip-list-rate', 'ip=10.0.0.5 10.0.0.6,rate=10Mb/s@20ms', {'ip': '10.0.0.5 10.0.0.6', 'rate': '10Mb/s@20ms'}),
    ('flag', 'bridge=xenbr0,trusted', {'bridge': 'xenbr0', 'trusted': True}),
]


@pytest.mark.parametrize('spec, expected', [c[1:] for c in VIF_CASES], ids=[c[0] for c in VIF_CASES])
def test_parse_vif_spec(spec, expected):
    assert xl_cfg.parse_vif_spec(spec) == expected


def test_render_vif_spec():
    assert xl_cfg.render_vif_spec({'bridge': 'xenbr0', 'mac': '00:16:3e:00:00:01'}) == \
        'mac=00:16:3e:00:00:01, bridge=xenbr0'


@pytest.mark.parametrize('vif, fragment', [
    ({'bridge': 'a,b'}, 'without ","'),
    ({'Bad': 'x'}, 'invalid key'),
    ({'bridge': ' xenbr0'}, 'surrounding blanks'),
])
def test_render_vif_spec_refuses(vif, fragment):
    with pytest.raises(XlValidationError, match=fragment):
        xl_cfg.render_vif_spec(vif)


_vif = st.fixed_dictionaries({}, optional=dict(
    [(k, _word) for k in xl_cfg.VIF_KEYS if k != 'mac']
    + [('mac', st.from_regex(r'\A00:16:3e(:[0-9a-f]{2}){3}\Z'))]
    + [(f, st.just(True)) for f in xl_cfg.VIF_FLAGS]))


@settings(max_examples=200, deadline=None)
@given(_vif)
def test_vif_spec_round_trip(vif):
    assert xl_cfg.parse_vif_spec(xl_cfg.render_vif_spec(vif)) == vif


# ----------------------------------------------------------------------------- MACs

def test_derived_mac_is_stable_and_in_xen_oui():
    # Pinned values: a change here would give running guests new MACs on the next run.
    assert xl_cfg.derive_mac('web1') == '00:16:3e:52:52:ae'
    assert xl_cfg.derive_mac('web1', 1) == '00:16:3e:68:a1:a3'
    assert xl_cfg.derive_mac('web1') == xl_cfg.derive_mac('web1', 0)


@given(st.text(min_size=1, max_size=64), st.integers(min_value=0, max_value=64))
def test_derived_mac_shape(name, index):
    mac = xl_cfg.derive_mac(name, index)
    assert mac.startswith('00:16:3e:')
    assert int(mac.split(':')[3], 16) < 0x80
    assert mac == xl_cfg.derive_mac(name, index)


def test_derived_macs_differ_between_names_and_indexes():
    macs = {xl_cfg.derive_mac('guest%d' % i, j) for i in range(200) for j in range(4)}
    assert len(macs) == 800

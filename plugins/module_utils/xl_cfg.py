# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read and write xl.cfg files (xl.cfg(5)), disk and vif specs, and stable MAC addresses.

The grammar follows libxlu's lexer and parser (``tools/libs/util/libxlu_cfg_l.l`` and
``libxlu_cfg_y.y`` of Xen 4.17/4.20), written again here in Python:

* a statement is ``key = value`` or ``key += value``, ended by a newline or ``;``; the last
  statement of a file may lack its end;
* keys are ``[a-z][._0-9a-z]*``;
* a value is a STRING (single or double quotes, backslash escapes, never spanning lines), a
  NUMBER (``[0-9][0-9a-fx]*``: decimal, octal with a leading 0, hex with 0x), or a list
  ``[ v, v, ... ]`` of values, possibly nested, spanning lines, with an optional trailing comma;
  the value must start on the line of its ``=``;
* ``#`` starts a comment that runs to the end of the line (outside strings);
* a key given twice keeps the last value; ``+=`` appends to the earlier string or list.

There is no boolean type: xl reads 0 and non-zero numbers.  Parsing gives ``str`` for strings,
``int`` for numbers that strtol() reads whole (anything else, e.g. ``09``, stays a ``str``, which
is how xl sees it), and ``list`` for lists.  Rendering takes ``str``, ``int`` (>= 0), ``bool``
(written 1/0) and lists of those, and parses back to the same value (``True`` -> ``1``).
"""

from __future__ import annotations

import hashlib
import re

from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlCfgSyntaxError, XlValidationError

HEADER = (
    '# Managed by xenfleet (xenfleet.xen). Local changes will be overwritten.\n'
    '# Syntax: xl.cfg(5).\n'
)

KEY_RE = re.compile(r'^[a-z][._0-9a-z]*\Z')

# Keys written first, in this order; every other key follows in alphabetical order.
KEY_ORDER = (
    'name', 'uuid', 'type', 'builder', 'pool',
    'memory', 'maxmem', 'vcpus', 'maxvcpus', 'cpus', 'cpus_soft', 'cpu_weight', 'cap',
    'kernel', 'ramdisk', 'root', 'extra', 'cmdline', 'bootloader', 'bootloader_args',
    'disk', 'vif',
    'on_poweroff', 'on_reboot', 'on_watchdog', 'on_crash', 'on_soft_reset',
)

_ESCAPES = {'"': '"', "'": "'", '\\': '\\', 'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n',
            'r': '\r', 't': '\t', 'v': '\v'}
_RENDER_ESCAPES = {'\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r'}

_TOKEN_RE = re.compile(r'''
    (?P<ws>[ \t]+)
  | (?P<comment>\#[^\n]*(?:\n|\Z))
  | (?P<newline>\n)
  | (?P<ident>[a-z][._0-9a-z]*)
  | (?P<number>[0-9][0-9a-fx]*)
  | (?P<string>'(?:[^'\\\n]|\\[^\n])*'|"(?:[^"\\\n]|\\[^\n])*")
  | (?P<addeq>\+=)
  | (?P<punct>[=,\[\];])
''', re.X)


class _Token(object):
    __slots__ = ('kind', 'text', 'value', 'lineno')

    def __init__(self, kind, text, value, lineno):
        self.kind = kind
        self.text = text
        self.value = value
        self.lineno = lineno

    def __repr__(self):
        return '_Token(%s, %r, line %d)' % (self.kind, self.text, self.lineno)


def _dequote(text, lineno, source):
    out = []
    body = text[1:-1]
    i = 0
    while i < len(body):
        c = body[i]
        if c == '\\':
            nc = body[i + 1]
            if nc in _ESCAPES:
                out.append(_ESCAPES[nc])
                i += 2
                continue
            if nc == 'x' or nc.isdigit():
                # libxlu accepts \xHH and \NNN but drops the character (it never stores it):
                # refuse rather than guess what the author meant.
                raise XlCfgSyntaxError('numeric escape \\%s in a string is not supported (libxlu drops it)' % nc,
                                       lineno, source, text)
            raise XlCfgSyntaxError('invalid character after backslash in quoted string', lineno, source, text)
        out.append(c)
        i += 1
    return ''.join(out)


def _number(text):
    """The int strtol(text, 0) reads whole, else the text itself."""
    if re.match(r'^0x[0-9a-f]+$', text):
        return int(text, 16)
    if re.match(r'^0[0-7]*$', text):
        return int(text, 8)
    if re.match(r'^[1-9][0-9]*$', text):
        return int(text)
    return text


def _tokenize(text, source):
    tokens = []
    pos = 0
    lineno = 1
    length = len(text)
    while pos < length:
        m = _TOKEN_RE.match(text, pos)
        if not m:
            bad = text[pos:].split('\n', 1)[0]
            ch = text[pos]
            if ch == '\r':
                reason = 'carriage return (CRLF line ending?): xl accepts only \\n line endings'
            elif ch in '"\'':
                reason = 'unterminated string (strings cannot span lines)'
            elif ch.isupper():
                reason = 'keys are lower case ([a-z][._0-9a-z]*)'
            elif ch in '+-.():':
                reason = 'lexical error (this looks like Python, not xl.cfg)'
            else:
                reason = 'lexical error'
            raise XlCfgSyntaxError(reason, lineno, source, bad[:40].replace('\r', '\\r'))
        kind = m.lastgroup
        tok_text = m.group(kind)
        if kind == 'ws':
            pass
        elif kind in ('comment', 'newline'):
            tokens.append(_Token('newline', tok_text, None, lineno))
        elif kind == 'string':
            tokens.append(_Token('atom', tok_text, _dequote(tok_text, lineno, source), lineno))
        elif kind == 'number':
            tokens.append(_Token('atom', tok_text, _number(tok_text), lineno))
        elif kind == 'ident':
            tokens.append(_Token('ident', tok_text, tok_text, lineno))
        elif kind == 'addeq':
            tokens.append(_Token('+=', tok_text, None, lineno))
        else:
            tokens.append(_Token(tok_text, tok_text, None, lineno))
        lineno += tok_text.count('\n')
        pos = m.end()
    tokens.append(_Token('eof', '', None, lineno))
    return tokens


class _Parser(object):
    def __init__(self, tokens, source):
        self.tokens = tokens
        self.pos = 0
        self.source = source

    def peek(self):
        return self.tokens[self.pos]

    def next(self):
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def error(self, reason, tok):
        near = tok.text.strip() or ('<newline>' if tok.kind == 'newline' else '<end of file>')
        raise XlCfgSyntaxError(reason, tok.lineno, self.source, near)

    def skip_newlines(self):
        while self.peek().kind == 'newline':
            self.next()

    def parse_file(self):
        settings = []
        while True:
            tok = self.peek()
            if tok.kind == 'eof':
                return settings
            if tok.kind in ('newline', ';'):
                self.next()
                continue
            if tok.kind != 'ident':
                self.error('expected a key at the start of a statement', tok)
            key = self.next()
            op = self.next()
            if op.kind not in ('=', '+='):
                self.error('expected "=" or "+=" after the key %r' % key.text, op)
            if self.peek().kind == 'newline':
                self.error('the value must start on the same line as "="', self.peek())
            value = self.parse_value()
            settings.append((key.text, op.kind, value, key.lineno))
            end = self.peek()
            if end.kind in ('newline', ';'):
                self.next()
            elif end.kind != 'eof':
                self.error('expected a newline or ";" after the value of %r' % key.text, end)

    def parse_value(self):
        tok = self.next()
        if tok.kind == 'atom':
            return tok.value
        if tok.kind == '[':
            items = []
            self.skip_newlines()
            if self.peek().kind == ']':
                self.next()
                return items
            while True:
                self.skip_newlines()
                items.append(self.parse_value())
                self.skip_newlines()
                sep = self.next()
                if sep.kind == ']':
                    return items
                if sep.kind == 'eof':
                    self.error('the list opened on line %d is not closed with "]"' % tok.lineno, sep)
                if sep.kind != ',':
                    self.error('expected "," or "]" in a list', sep)
                self.skip_newlines()
                if self.peek().kind == ']':
                    self.next()
                    return items
        if tok.kind == 'eof':
            self.error('a value is missing at the end of the file', tok)
        self.error('expected a value (a quoted string, a number or a [list])', tok)
        return None  # not reached


def parse_settings(text, source='<string>'):
    """The statements of an xl.cfg file as a list of (key, op, value, lineno), in file order."""
    if not isinstance(text, str):
        raise XlCfgSyntaxError('xl.cfg content must be text', None, source)
    if '\0' in text:
        raise XlCfgSyntaxError('NUL byte in the file', text[:text.index('\0')].count('\n') + 1, source)
    return _Parser(_tokenize(text, source), source).parse_file()


def parse(text, source='<string>'):
    """Parse xl.cfg content into a dict with xl's semantics (last assignment wins, ``+=`` appends).

    Raises XlCfgSyntaxError with the 1-based line number on malformed input.
    """
    result = {}
    for key, op, value, lineno in parse_settings(text, source):
        if op == '+=' and key in result:
            prev = result[key]
            if isinstance(prev, list) and isinstance(value, list):
                value = prev + value
            elif not isinstance(prev, list) and not isinstance(value, list):
                value = str(prev) + str(value)
            else:
                raise XlCfgSyntaxError('"+=" mixes a list and a single value for %r' % key, lineno, source)
        result[key] = value
    return result


def _check_key(key):
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise XlValidationError('xl.cfg key %r is not valid: keys match [a-z][._0-9a-z]*' % (key,))
    return key


def render_value(value, key='?', indent='    ', depth=0):
    """One value in xl.cfg syntax.  Lists of more than zero items are written one item per line."""
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, int):
        if value < 0:
            raise XlValidationError('xl.cfg has no negative numbers (key %r, value %d): quote it as a string'
                                    % (key, value))
        return str(value)
    if isinstance(value, str):
        if '\0' in value:
            raise XlValidationError('xl.cfg strings cannot contain NUL (key %r)' % (key,))
        return '"%s"' % ''.join(_RENDER_ESCAPES.get(c, c) for c in value)
    if isinstance(value, (list, tuple)):
        if not value:
            return '[]'
        pad = indent * (depth + 1)
        items = ''.join('%s%s,\n' % (pad, render_value(v, key, indent, depth + 1)) for v in value)
        return '[\n%s%s]' % (items, indent * depth)
    raise XlValidationError('xl.cfg cannot hold a %s (key %r, value %r)' % (type(value).__name__, key, value))


def ordered_keys(config):
    known = [k for k in KEY_ORDER if k in config]
    return known + sorted(k for k in config if k not in KEY_ORDER)


def render(config, header=True):
    """xl.cfg text for a dict: deterministic key order, a header saying xenfleet manages the file.

    ``None`` values are left out.
    """
    lines = [HEADER] if header else []
    for key in ordered_keys(config):
        value = config[key]
        if value is None:
            continue
        lines.append('%s = %s\n' % (_check_key(key), render_value(value, key)))
    return ''.join(lines)


def normalize(config):
    """What parse(render(config)) gives: bools become 0/1, tuples lists, None values go."""
    def norm(value):
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, (list, tuple)):
            return [norm(v) for v in value]
        return value
    return {k: norm(v) for k, v in config.items() if v is not None}


# --------------------------------------------------------------------------- disk specs

DISK_KEYS = ('format', 'vdev', 'access', 'devtype', 'backend', 'backendtype', 'script',
             'specification', 'transport')
DISK_FLAGS = ('cdrom', 'direct-io-safe', 'discard', 'no-discard', 'trusted', 'untrusted')
_DISK_DEPRECATED_PREFIX_RE = re.compile(r'^(raw|qcow2?|vhd|tapdisk|tap2?|aio|ioemu|file|phy):(/.*)$')
_DISK_FORMATS = ('raw', 'qcow', 'qcow2', 'vhd', 'qed', 'empty')


def parse_disk_spec(spec):
    """A DISKSPEC (xl-disk-configuration(5)) as a dict.

    Keys: ``target``, ``format``, ``vdev``, ``access`` (``rw``/``ro``), ``devtype`` and any
    other ``key=value`` given; bare flags (``discard``...) map to True.  ``target=`` takes
    the rest of the string, as in libxlu.  Deprecated ``phy:``/``file:``/``raw:`` prefixes are
    accepted: ``raw:``/``qcow2:``/``vhd:`` set ``format``, the others are kept as ``legacy_prefix``.
    """
    if not isinstance(spec, str):
        raise XlValidationError('a disk spec must be a string, got %r' % (spec,))
    result = {}
    positional = ('target', 'format', 'vdev', 'access')
    filled = []
    rest = spec
    while rest:
        rest = rest.lstrip(' \t\n')
        if rest.startswith('target='):
            result['target'] = rest[len('target='):]
            break
        item, sep, rest = rest.partition(',')
        if not sep:
            rest = ''
        if '=' in item:
            key, dummy, value = item.partition('=')
            key = key.strip()
            if key not in DISK_KEYS:
                raise XlValidationError('disk spec %r: unknown parameter %r' % (spec, key))
            if key in result:
                raise XlValidationError('disk spec %r: %r given twice' % (spec, key))
            if value:
                result[key] = value
            filled.append(key)
            continue
        if item in DISK_FLAGS:
            if item == 'cdrom':
                result['devtype'] = 'cdrom'
            else:
                result[item] = True
            continue
        m = _DISK_DEPRECATED_PREFIX_RE.match(item) if not filled else None
        if m and 'target' not in result:
            prefix, path = m.groups()
            if prefix in _DISK_FORMATS:
                result['format'] = prefix
            else:
                result['legacy_prefix'] = prefix
            # As in libxlu: after a deprecated prefix the next positional value is the vdev.
            filled += ['target', 'format']
            result['target'] = path
            continue
        slot = next((p for p in positional if p not in filled), None)
        if slot is None:
            raise XlValidationError('disk spec %r: too many positional parameters' % (spec,))
        filled.append(slot)
        if slot == 'vdev' and item.endswith(':cdrom'):
            item = item[:-len(':cdrom')]
            result['devtype'] = 'cdrom'
        if item:
            result[slot] = item
    if 'access' in result:
        access = result['access']
        if access in ('rw', 'w'):
            result['access'] = 'rw'
        elif access in ('ro', 'r'):
            result['access'] = 'ro'
        elif access == 'cdrom':
            result['access'] = 'ro'
            result['devtype'] = 'cdrom'
        else:
            raise XlValidationError('disk spec %r: access must be rw or ro, got %r' % (spec, access))
    return result


def render_disk_spec(disk):
    """The canonical DISKSPEC of a dict: ``format=raw, vdev=xvda, access=rw, target=/dev/vg/x``.

    Named parameters in a fixed order, flags after them and ``target=`` last (it may contain
    commas).  ``parse_disk_spec(render_disk_spec(d)) == d`` for a dict of known keys.
    """
    unknown = [k for k in disk if k not in DISK_KEYS + DISK_FLAGS + ('target', 'legacy_prefix')]
    if unknown:
        raise XlValidationError('disk: unknown parameters %s' % ', '.join(sorted(unknown)))
    parts = []
    if disk.get('legacy_prefix'):
        raise XlValidationError('disk: the deprecated %s: prefix is not written; drop legacy_prefix'
                                % disk['legacy_prefix'])
    for key in DISK_KEYS:
        value = disk.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value or ',' in value or '\n' in value:
            raise XlValidationError('disk: %s must be a non-empty string without "," (got %r)' % (key, value))
        parts.append('%s=%s' % (key, value))
    for flag in DISK_FLAGS:
        if disk.get(flag):
            parts.append(flag)
    target = disk.get('target')
    if target is not None:
        if not isinstance(target, str) or '\n' in target:
            raise XlValidationError('disk: target must be a string without newline (got %r)' % (target,))
        parts.append('target=%s' % target)
    if not parts:
        raise XlValidationError('disk: empty disk spec')
    return ', '.join(parts)


# --------------------------------------------------------------------------- vif specs

VIF_KEYS = ('mac', 'bridge', 'type', 'model', 'vifname', 'script', 'ip', 'backend', 'rate',
            'gatewaydev', 'mtu', 'vlan', 'devid')
VIF_FLAGS = ('trusted', 'untrusted')


def parse_vif_spec(spec):
    """A vifspec (xl-network-configuration(5)) as a dict; ``mac`` in lower case."""
    if not isinstance(spec, str):
        raise XlValidationError('a vif spec must be a string, got %r' % (spec,))
    result = {}
    for item in spec.split(','):
        item = item.strip()
        if not item:
            continue
        if item in VIF_FLAGS:
            result[item] = True
            continue
        key, sep, value = item.partition('=')
        if not sep:
            raise XlValidationError('vif spec %r: %r is not key=value' % (spec, item))
        if key in result:
            raise XlValidationError('vif spec %r: %r given twice' % (spec, key))
        result[key] = value.lower() if key == 'mac' else value
    return result


def render_vif_spec(vif):
    """The canonical vifspec of a dict: ``mac=00:16:3e:..., bridge=xenbr0`` (known keys first)."""
    parts = []
    keys = [k for k in VIF_KEYS if k in vif] + sorted(k for k in vif if k not in VIF_KEYS + VIF_FLAGS)
    for key in keys:
        value = vif[key]
        if value is None:
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not re.match(r'^[a-z][a-z0-9_]*\Z', key):
            raise XlValidationError('vif: invalid key %r' % (key,))
        if not isinstance(value, str) or ',' in value or '\n' in value or value != value.strip():
            raise XlValidationError('vif: %s must be a string without "," or surrounding blanks (got %r)'
                                    % (key, value))
        parts.append('%s=%s' % (key, value))
    for flag in VIF_FLAGS:
        if vif.get(flag):
            parts.append(flag)
    return ', '.join(parts)


def derive_mac(domain, index=0, oui='00:16:3e'):
    """A MAC in Xen's OUI (00:16:3e) derived from the domain name and the vif index.

    The same name and index always give the same MAC, on every host and every run.
    """
    if not isinstance(domain, str) or not domain:
        raise XlValidationError('derive_mac needs a domain name')
    digest = hashlib.sha256(('xenfleet:%s:%d' % (domain, int(index))).encode('utf-8')).digest()
    return '%s:%02x:%02x:%02x' % (oui, digest[0] & 0x7f, digest[1], digest[2])

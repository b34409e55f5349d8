/** Licences from Debian copyright files: DEP-5 fields and common-licenses references. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyrightLicenses } from '../../src/inventory/analyzers/deb-copyright.js';

test('DEP-5: every name of every License expression, exceptions kept with their name', () => {
  const text = [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: demo',
    '',
    'Files: *',
    'License: GPL-2+ or Artistic',
    '',
    'Files: lib/*',
    'License: LGPL-2.1+ and/or BSD-3-clause, MIT/X11',
    '',
    'Files: doc/*',
    'License: GPL-3+ with Bison exception',
    '',
    'License: GPL-2+',
    ' On Debian systems, see /usr/share/common-licenses/GPL-2.',
    'License:  none',
  ].join('\n');
  assert.deepEqual(copyrightLicenses(text), ['Artistic', 'BSD-3-clause', 'GPL-2', 'GPL-2+', 'GPL-3+ with Bison exception', 'LGPL-2.1+', 'MIT/X11']);
});

test('free-form files: only common-licenses references; prose after "License:" is not a name', () => {
  const text = [
    'This is the Debian prepackaged version of demo.',
    'License: The main library is licensed under the GNU Lesser General Public License',
    "The full text is in `/usr/share/common-licenses/LGPL-2.1'.",
  ].join('\n');
  assert.deepEqual(copyrightLicenses(text), ['LGPL-2.1']);
  assert.deepEqual(copyrightLicenses(''), []);
});

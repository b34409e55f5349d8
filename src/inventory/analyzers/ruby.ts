/**
 * Ruby gems from installed gem specifications (`specifications/*.gemspec`, including
 * `specifications/default/`). A gemspec is Ruby code; the generated ones RubyGems writes
 * are regular enough to read name, version and licences with patterns, as Trivy and Syft
 * do (evaluating Ruby is not an option).
 */
import type { Analyzer } from '../analyzer.js';
import { makePurl } from '../purl.js';
import { readText } from '../streams.js';

const SPEC = /\/specifications\/(?:default\/)?[^/]+\.gemspec$/;
// s.name = "rake".freeze   |   s.name = %q{rake}   |   spec.version = '1.2.3'
const FIELD = (field: string) => new RegExp(`^\\s*\\w+\\.${field}\\s*=\\s*(?:"([^"]+)"|'([^']+)'|%q\\{([^}]+)\\})`, 'm');
const LICENSES = /^\s*\w+\.licenses?\s*=\s*\[?([^\]\n]*)\]?/m;

export const rubyAnalyzer: Analyzer = {
  name: 'ruby',
  wants: (path) => SPEC.test(path),
  async visit({ path, content }) {
    const text = await readText(content, 4 * 1024 * 1024);
    const pick = (re: RegExp) => {
      const m = re.exec(text);
      return m ? (m[1] ?? m[2] ?? m[3]) : undefined;
    };
    const name = pick(FIELD('name'));
    const version = pick(FIELD('version'));
    if (!name || !version) throw new Error('gemspec without a literal name/version');
    const lic = LICENSES.exec(text)?.[1];
    const licenses = lic ? [...lic.matchAll(/"([^"]+)"|'([^']+)'/g)].map((m) => m[1] ?? m[2]) : [];
    return {
      packages: [
        {
          ecosystem: 'RubyGems',
          name,
          version,
          purl: makePurl('gem', undefined, name, version),
          licenses: licenses.length ? licenses : undefined,
          location: { path },
          analyzer: 'ruby',
        },
      ],
    };
  },
};

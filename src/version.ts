/** Gatehouse's version, reported by --version and written into SBOMs. */
export const GATEHOUSE_VERSION = '0.1.0';

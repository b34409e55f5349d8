/**
 * The rule engine's public API, for the CLI and for the sensor to feed events in-process:
 *
 *   const rules = loadRuleSet(['falco_rules.yaml']);      // throws RuleLoadError (a UserError)
 *   const alerts = rules.evaluate(event);                 // Alert[] in Falco's JSON shape
 *   const engine = new Engine(rules, [sinkFor('-')]);     // push(event) → emits alerts
 *
 * Events are flat records keyed by Falco field names (src/runtime/event.ts); `fieldRegistry`
 * lists every supported field, its type and how it is derived.
 */
export { loadRuleSet, ruleSetFromText, RuleSet, type RuleSetOptions } from './ruleset.js';
export { loadRuleFiles, loadRules, type CompiledRule, type LoadResult, type RuleSource, type ExceptionDef } from './loader.js';
export { Engine, type EngineStats } from './engine.js';
export { fieldRegistry, FieldRegistry, readField, type FieldDef, type FieldType } from './fields.js';
export { RuleLoadError, describeDiagnostic, type RuleDiagnostic } from './errors.js';
export { parseCondition, MAX_NESTING } from './parser.js';
export { exprText, type Expr } from './ast.js';
export { Compiler, EvalContext, evtTypesOf } from './compiler.js';
export { PRIORITIES, parsePriority, prioritySeverity, type Priority } from './priority.js';
export { type Alert, makeAlert, compileOutput, alertToFinding } from '../alerts/alert.js';
export { sinkFor, StreamSink, FileSink, WebhookSink, type AlertSink } from '../alerts/sinks.js';

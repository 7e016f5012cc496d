// WorkflowSubmitForm: a workflow typed as JSON (a WorkflowInput), checked as
// it is typed (lib/workflowSubmit.ts), submitted with submitWorkflow; then
// its graph is shown.

import { useId, useState, type FormEvent } from 'react';

import { useCan } from '../state/session';
import { useService } from '../state/store';
import { Link, navigate } from '../lib/router';
import { EXAMPLE_WORKFLOW, checkWorkflowInput } from '../lib/workflowSubmit';
import { ErrorNote, NotAllowed } from './common';
import { workflowHref } from './WorkflowList';

export function WorkflowSubmitForm() {
  const service = useService();
  const allowed = useCan('submitWorkflow');
  const id = useId();
  const [text, setText] = useState(EXAMPLE_WORKFLOW);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const check = checkWorkflowInput(text);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!check.ok) return;
    setBusy(true);
    setError(null);
    try {
      const w = await service.submitWorkflow(check.value);
      navigate(workflowHref(w.id));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="wf-submit-title">
      <p className="crumbs">
        <Link to="/workflows">Workflows</Link> ›
      </p>
      <div className="page-head">
        <h1 id="wf-submit-title">New workflow</h1>
      </div>
      {!allowed ? (
        <NotAllowed action="submitWorkflow">Submitting a workflow is not allowed.</NotAllowed>
      ) : (
        <form className="card form" onSubmit={submit} noValidate data-testid="workflow-form">
          <label className="field" htmlFor={`${id}-wf`}>
            <span>Workflow (JSON)</span>
            <textarea
              id={`${id}-wf`}
              name="workflow"
              className="mono"
              rows={18}
              spellCheck={false}
              value={text}
              onChange={(e) => setText(e.target.value)}
              aria-invalid={!check.ok}
              aria-describedby={`${id}-wf-msg`}
            />
            <small id={`${id}-wf-msg`} className={check.ok ? 'field-hint' : 'field-error'} data-testid="workflow-check">
              {check.ok
                ? `Valid: ${check.value.steps.length} step${check.value.steps.length === 1 ? '' : 's'}. A step's input may use {"$ref": "STEP.result"} (or STEP.result.path) for the result of a step it depends on.`
                : check.message}
            </small>
          </label>
          {error && <ErrorNote>The node refused the workflow: {error}</ErrorNote>}
          <div className="form-actions">
            <button type="submit" className="btn btn-primary" disabled={busy || !check.ok}>
              {busy ? 'Submitting…' : 'Submit workflow'}
            </button>
            <Link to="/workflows" className="btn btn-ghost">
              Cancel
            </Link>
          </div>
        </form>
      )}
    </section>
  );
}

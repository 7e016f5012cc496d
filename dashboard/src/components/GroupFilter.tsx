// GroupFilter: the task list's group field. It follows the URL's group
// (links, back and forward), sets it after a short pause in typing (a group
// is matched exactly), and suggests the groups that have tasks.

import { useEffect, useId, useRef, useState } from 'react';

import { useService } from '../state/store';

export function GroupFilter({ value, onChange }: { value: string | undefined; onChange: (group: string | undefined) => void }) {
  const service = useService();
  const [text, setText] = useState(value ?? '');
  const [known, setKnown] = useState<string[]>([]);
  const listId = useId();

  const urlValue = useRef(value ?? '');
  useEffect(() => {
    const v = value ?? '';
    if (v !== urlValue.current) {
      urlValue.current = v;
      setText(v);
    }
  }, [value]);

  useEffect(() => {
    if ((value ?? '') === text) return;
    const t = setTimeout(() => onChange(text || undefined), 300);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text]);

  // The suggestions: read when the field is first used.
  function suggest() {
    if (known.length > 0) return;
    service.taskGroups(100).then(
      (groups) => setKnown(groups.map((g) => g.group)),
      () => undefined, // no suggestions
    );
  }

  return (
    <label className="field field-inline">
      <span>Group</span>
      <input
        name="group"
        value={text}
        onChange={(e) => setText(e.target.value)}
        onFocus={suggest}
        placeholder="campaign"
        size={12}
        list={listId}
        autoComplete="off"
        spellCheck={false}
      />
      <datalist id={listId}>
        {known.map((g) => (
          <option key={g} value={g} />
        ))}
      </datalist>
    </label>
  );
}

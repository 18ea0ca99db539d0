"""ODK Collect and Enketo as phone apps (OpenRosa): the pure part, without Flask.

``xforms`` writes the built-in forms as XForms and the OpenRosa form list and manifest;
``instances`` reads what Collect or Enketo submit and turns it into the push envelope's items,
which then go through ``sync.push.pipeline`` exactly like a JSON batch.
"""

"""Code that talks to the workflows from outside them: opening a request (the same input the API's
update-with-start sends), and reading, decoding and replaying a request's history for auditors."""

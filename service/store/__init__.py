"""The store: SQLAlchemy tables, their queries, and the Alembic migrations.

Importing the package registers every table module on the one ``Base`` (relationships name
tables across modules, so all must be mapped before the first query).
"""

from service.store import api_tables as api_tables
from service.store import forecast_tables as forecast_tables
from service.store import quality_tables as quality_tables
from service.store import tables as tables
from service.store import triage_tables as triage_tables
from service.store import workflow_tables as workflow_tables

"""Every table's metadata in one place, for migrations and test set-up. Nothing else imports this."""

from omniloom.catalog import models as catalog_models
from omniloom.channels import models as channel_models
from omniloom.customers import models as customer_models
from omniloom.engagement import models as engagement_models
from omniloom.fulfillment import models as fulfillment_models
from omniloom.inventory import models as inventory_models
from omniloom.orders import models as order_models
from omniloom.platform import auth, idempotency, outbox
from omniloom.platform.db import Base
from omniloom.pricing import models as pricing_models
from omniloom.syndication import models as syndication_models
from omniloom.syndication.connectors import models as connector_models
from omniloom.webhooks import models as webhook_models

metadata = Base.metadata

__all__ = ["auth", "catalog_models", "channel_models", "connector_models", "customer_models", "engagement_models",
           "fulfillment_models", "idempotency", "inventory_models", "metadata", "order_models", "outbox",
           "pricing_models", "syndication_models", "webhook_models"]

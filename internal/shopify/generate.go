package shopify

//go:generate go run github.com/Khan/genqlient genqlient.yaml
